// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";

/// @title dain data assets and their consent policies
/// @notice A data asset is an ERC-721 token whose id is its manifest hash, so the id commits
///         to the data without revealing any row. Its consent policy lives here; whoever
///         holds the token controls consent. Revocation applies to every later use.
contract DataAssets is ERC721 {
    /// Why a use is (not) allowed; `Allowed` is the only yes.
    enum Consent {
        Allowed,
        Revoked,
        Expired,
        PurposeNotAllowed,
        UnknownAsset
    }

    struct ConsentPolicy {
        bytes32[] purposes; // short purpose tags, UTF-8, left-aligned
        uint64 expiry; // unix seconds; 0 = no expiry
        uint256 pricePerRound; // in token units, paid per round the asset is used
        bool revoked;
        uint32 version; // bumps on every change, so receipts name the terms they used
        string policyCid; // content id of the full human-readable policy document
    }

    mapping(uint256 => ConsentPolicy) private _policies;

    event AssetRegistered(uint256 indexed assetId, address indexed owner, string manifestCid);
    event PolicySet(uint256 indexed assetId, uint32 version, string policyCid);
    event ConsentRevoked(uint256 indexed assetId, uint32 version);

    error NotAssetOwner(uint256 assetId, address caller);
    error AlreadyRevoked(uint256 assetId);
    error NoPurposes();

    constructor() ERC721("dain data asset", "DAINDATA") {}

    /// Mints the asset to the caller. `manifestHash` is the sha2-256 digest of the manifest.
    function register(
        bytes32 manifestHash,
        string calldata manifestCid,
        bytes32[] calldata purposes,
        uint64 expiry,
        uint256 pricePerRound,
        string calldata policyCid
    ) external returns (uint256 assetId) {
        assetId = uint256(manifestHash);
        _mint(msg.sender, assetId);
        emit AssetRegistered(assetId, msg.sender, manifestCid);
        _setPolicy(assetId, purposes, expiry, pricePerRound, policyCid);
    }

    /// Replaces the terms and (re)grants consent under them.
    function setPolicy(
        uint256 assetId,
        bytes32[] calldata purposes,
        uint64 expiry,
        uint256 pricePerRound,
        string calldata policyCid
    ) external onlyAssetOwner(assetId) {
        _setPolicy(assetId, purposes, expiry, pricePerRound, policyCid);
    }

    function revoke(uint256 assetId) external onlyAssetOwner(assetId) {
        ConsentPolicy storage p = _policies[assetId];
        if (p.revoked) revert AlreadyRevoked(assetId);
        p.revoked = true;
        p.version += 1;
        emit ConsentRevoked(assetId, p.version);
    }

    function policy(uint256 assetId) external view returns (ConsentPolicy memory) {
        return _policies[assetId];
    }

    function consentFor(uint256 assetId, bytes32 purpose) public view returns (Consent) {
        if (_ownerOf(assetId) == address(0)) return Consent.UnknownAsset;
        ConsentPolicy storage p = _policies[assetId];
        if (p.revoked) return Consent.Revoked;
        if (p.expiry != 0 && block.timestamp >= p.expiry) return Consent.Expired;
        bytes32[] storage purposes = p.purposes;
        for (uint256 i = 0; i < purposes.length; i++) {
            if (purposes[i] == purpose) return Consent.Allowed;
        }
        return Consent.PurposeNotAllowed;
    }

    function policyVersion(uint256 assetId) external view returns (uint32) {
        return _policies[assetId].version;
    }

    modifier onlyAssetOwner(uint256 assetId) {
        if (ownerOf(assetId) != msg.sender) revert NotAssetOwner(assetId, msg.sender);
        _;
    }

    function _setPolicy(
        uint256 assetId,
        bytes32[] calldata purposes,
        uint64 expiry,
        uint256 pricePerRound,
        string calldata policyCid
    ) private {
        if (purposes.length == 0) revert NoPurposes();
        ConsentPolicy storage p = _policies[assetId];
        p.purposes = purposes;
        p.expiry = expiry;
        p.pricePerRound = pricePerRound;
        p.revoked = false;
        p.version += 1;
        p.policyCid = policyCid;
        emit PolicySet(assetId, p.version, policyCid);
    }
}
