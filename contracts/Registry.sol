// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title dain member registry
/// @notice Each member is an address with its DID, the URL of its node and the public key
///         peers use to reach it. Members update their own entry.
contract Registry {
    struct Member {
        string did;
        string endpoint;
        bytes publicKey;
        uint64 joinedAt;
    }

    mapping(address => Member) private _members;
    address[] private _addresses;

    event MemberRegistered(address indexed member, string did, string endpoint);
    event MemberUpdated(address indexed member, string endpoint);

    error EmptyDid();

    function register(string calldata did, string calldata endpoint, bytes calldata publicKey) external {
        if (bytes(did).length == 0) revert EmptyDid();
        Member storage m = _members[msg.sender];
        bool isNew = m.joinedAt == 0;
        m.did = did;
        m.endpoint = endpoint;
        m.publicKey = publicKey;
        if (isNew) {
            m.joinedAt = uint64(block.timestamp);
            _addresses.push(msg.sender);
            emit MemberRegistered(msg.sender, did, endpoint);
        } else {
            emit MemberUpdated(msg.sender, endpoint);
        }
    }

    function isMember(address account) external view returns (bool) {
        return _members[account].joinedAt != 0;
    }

    function member(address account) external view returns (Member memory) {
        return _members[account];
    }

    function members() external view returns (address[] memory) {
        return _addresses;
    }
}
