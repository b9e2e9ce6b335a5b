// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @title dain member registry and credential attestations
/// @notice The founding members are admitted when the registry is deployed; after that,
///         members are admitted and removed only by the governance timelock (ADMITTER_ROLE),
///         that is by a passed vote: nobody else holds a role here. A member publishes its
///         node endpoint, public key and the SHA-256 of its node's TLS certificate (peers
///         connect only to the certificate it names, bytes32(0) for none); its DID is not
///         its word but derived here, did:pkh:eip155:<this chain>:<its address>. Any member
///         may attest a credential about another address (a verifiable credential's status
///         on chain); consent policies can require one from a named issuer.
contract Registry is AccessControl {
    bytes32 public constant ADMITTER_ROLE = keccak256("ADMITTER_ROLE");

    struct Profile {
        bool admitted;
        uint64 joinedAt;
        string endpoint;
        bytes publicKey;
        bytes32 tlsFingerprint; // SHA-256 of the node's DER certificate; 0: none published
    }

    /// A member as read: its profile and its DID.
    struct Member {
        bool admitted;
        uint64 joinedAt;
        string did;
        string endpoint;
        bytes publicKey;
        bytes32 tlsFingerprint;
    }

    mapping(address => Profile) private _members;
    address[] private _addresses;
    mapping(address => mapping(address => uint64)) private _credentialExpiry; // issuer => subject

    event MemberAdmitted(address indexed member);
    event MemberRemoved(address indexed member);
    event MemberProfile(address indexed member, string did, string endpoint, bytes32 tlsFingerprint);
    event CredentialAttested(address indexed issuer, address indexed subject, uint64 expiry);

    error NotAdmitted(address account);

    constructor(address timelock, address[] memory founders) {
        _grantRole(ADMITTER_ROLE, timelock);
        _grantRole(DEFAULT_ADMIN_ROLE, timelock);
        for (uint256 i = 0; i < founders.length; i++) {
            _admit(founders[i]);
        }
    }

    function admit(address account) external onlyRole(ADMITTER_ROLE) {
        _admit(account);
    }

    function _admit(address account) private {
        Profile storage m = _members[account];
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

    /// Publishes the caller's endpoint, public key and TLS certificate fingerprint; only
    /// admitted members may.
    function register(string calldata endpoint, bytes calldata publicKey, bytes32 tlsFingerprint) external {
        Profile storage m = _members[msg.sender];
        if (!m.admitted) revert NotAdmitted(msg.sender);
        m.endpoint = endpoint;
        m.publicKey = publicKey;
        m.tlsFingerprint = tlsFingerprint;
        emit MemberProfile(msg.sender, didOf(msg.sender), endpoint, tlsFingerprint);
    }

    /// The DID of `account` on this chain: did:pkh:eip155:<chain id>:<checksummed address>.
    function didOf(address account) public view returns (string memory) {
        return string.concat(
            "did:pkh:eip155:", Strings.toString(block.chainid), ":", Strings.toChecksumHexString(account)
        );
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
        Profile storage m = _members[account];
        string memory did = m.joinedAt == 0 ? "" : didOf(account);
        return Member(m.admitted, m.joinedAt, did, m.endpoint, m.publicKey, m.tlsFingerprint);
    }

    function members() external view returns (address[] memory) {
        return _addresses;
    }
}
