// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title dain member registry and credential attestations
/// @notice Members are admitted and removed by holders of ADMITTER_ROLE: the governance
///         timelock, and at genesis the deployer, who renounces it once the founding members
///         are in. A member publishes its DID, node endpoint, public key and the SHA-256 of
///         its node's TLS certificate (peers connect only to the certificate it names,
///         bytes32(0) for none). Any member may
///         attest a credential about another address (a verifiable credential's status on
///         chain); consent policies can require one from a named issuer.
contract Registry is AccessControl {
    bytes32 public constant ADMITTER_ROLE = keccak256("ADMITTER_ROLE");

    struct Member {
        bool admitted;
        uint64 joinedAt;
        string did;
        string endpoint;
        bytes publicKey;
        bytes32 tlsFingerprint; // SHA-256 of the node's DER certificate; 0: none published
    }

    mapping(address => Member) private _members;
    address[] private _addresses;
    mapping(address => mapping(address => uint64)) private _credentialExpiry; // issuer => subject

    event MemberAdmitted(address indexed member);
    event MemberRemoved(address indexed member);
    event MemberProfile(address indexed member, string did, string endpoint, bytes32 tlsFingerprint);
    event CredentialAttested(address indexed issuer, address indexed subject, uint64 expiry);

    error NotAdmitted(address account);
    error EmptyDid();

    constructor(address admin, address timelock) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ADMITTER_ROLE, admin);
        _grantRole(ADMITTER_ROLE, timelock);
        _grantRole(DEFAULT_ADMIN_ROLE, timelock);
    }

    function admit(address account) external onlyRole(ADMITTER_ROLE) {
        Member storage m = _members[account];
        if (m.joinedAt == 0) {
            m.joinedAt = uint64(block.timestamp);
            _addresses.push(account);
        }
        m.admitted = true;
        emit MemberAdmitted(account);
    }

    function remove(address account) external onlyRole(ADMITTER_ROLE) {
        _members[account].admitted = false;
        emit MemberRemoved(account);
    }

    /// Publishes the caller's DID, endpoint, public key and TLS certificate fingerprint;
    /// only admitted members may.
    function register(
        string calldata did,
        string calldata endpoint,
        bytes calldata publicKey,
        bytes32 tlsFingerprint
    ) external {
        Member storage m = _members[msg.sender];
        if (!m.admitted) revert NotAdmitted(msg.sender);
        if (bytes(did).length == 0) revert EmptyDid();
        m.did = did;
        m.endpoint = endpoint;
        m.publicKey = publicKey;
        m.tlsFingerprint = tlsFingerprint;
        emit MemberProfile(msg.sender, did, endpoint, tlsFingerprint);
    }

    /// The caller (a member) attests a credential about `subject` until `expiry` (0 revokes).
    function attest(address subject, uint64 expiry) external {
        if (!_members[msg.sender].admitted) revert NotAdmitted(msg.sender);
        _credentialExpiry[msg.sender][subject] = expiry;
        emit CredentialAttested(msg.sender, subject, expiry);
    }

    function hasCredential(address issuer, address subject) external view returns (bool) {
        return _members[issuer].admitted && _credentialExpiry[issuer][subject] > block.timestamp;
    }

    function isMember(address account) external view returns (bool) {
        return _members[account].admitted;
    }

    function member(address account) external view returns (Member memory) {
        return _members[account];
    }

    function members() external view returns (address[] memory) {
        return _addresses;
    }
}
