// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC165} from "@openzeppelin/contracts/interfaces/IERC165.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {AssetMetadata} from "./AssetMetadata.sol";
import {Registry} from "./Registry.sol";

/// @title dain data assets and their consent policies
/// @notice A data asset is an ERC-721 token whose id is its manifest hash, so the id commits
///         to the data without revealing any row. Its registration also commits to its row
///         count (the manifest's `num_rows`): no receipt may claim to have trained on more
///         examples than that. Its consent policy lives here; whoever
///         holds the token controls consent. Every change bumps the policy version; receipts
///         and enrollments name the version they relied on. Revocation applies to every
///         later use. `tokenURI` shows the asset and its consent in any wallet (ERC-721
///         metadata as a `data:` URI), and every policy change emits ERC-4906's
///         MetadataUpdate, so explorers refresh it.
contract DataAssets is ERC721, IERC4906 {
    /// Why a use is (not) allowed; `Allowed` is the only yes.
    enum Consent {
        Allowed,
        Revoked,
        Expired,
        PurposeNotAllowed,
        RequesterNotAllowed,
        SecureAggregationRequired,
        PrivacyBudgetTooHigh,
        UnknownAsset
    }

    uint64 public constant NO_EPSILON_LIMIT = type(uint64).max;
    bytes4 private constant ERC4906_INTERFACE_ID = bytes4(0x49064906);

    /// What an owner sets. Epsilon is in millionths; NO_EPSILON_LIMIT means no limit.
    struct PolicyInput {
        bytes32[] purposes; // short purpose tags, UTF-8, left-aligned
        address[] allowedRequesters; // empty and no issuer: anyone may request
        address requiredIssuer; // or: requesters holding a credential from this issuer
        uint64 expiry; // unix seconds; 0 = never
        uint256 pricePerRound; // token base units per round the asset is used
        uint16 minParticipants; // fewest assets in a round that uses this one
        uint64 maxEpsilon; // most privacy loss a job may spend on this asset
        bool secureAggregation; // updates must be securely aggregated
        string policyCid; // content id of the full human-readable policy document
    }

    /// Hot fields in one storage slot, so a round's consent check costs one read.
    struct Terms {
        uint64 expiry;
        bool revoked;
        uint32 version;
        uint16 minParticipants;
        bool secureAggregation;
        uint64 maxEpsilon;
    }

    /// What a round record checks per receipt, in one storage slot: who holds the asset now
    /// and its consent terms that change with each policy version.
    struct Live {
        address owner;
        uint40 expiry; // unix seconds; 0 = never
        uint32 version;
        uint16 minParticipants;
        bool revoked;
    }

    struct Policy {
        Terms terms;
        uint256 pricePerRound;
        address requiredIssuer;
        bytes32[] purposes;
        address[] allowedRequesters;
        string policyCid;
    }

    Registry public immutable registry;
    mapping(uint256 => Policy) private _policies;
    mapping(uint256 => Live) private _live;
    /// rows each asset's registration committed to; fixed for the asset's life
    mapping(uint256 => uint64) public rows;
    /// content id of each asset's manifest, as its registration named it; fixed
    mapping(uint256 => string) public manifestCid;
    // keyed by version, so a new policy never needs the old entries cleared
    mapping(uint256 => mapping(uint32 => mapping(bytes32 => bool))) private _purposeAllowed;
    mapping(uint256 => mapping(uint32 => mapping(address => bool))) private _requesterAllowed;

    event AssetRegistered(uint256 indexed assetId, address indexed owner, string manifestCid);
    event PolicySet(uint256 indexed assetId, uint32 version, string policyCid);
    event ConsentRevoked(uint256 indexed assetId, uint32 version);

    error NotAssetOwner(uint256 assetId, address caller);
    error AlreadyRevoked(uint256 assetId);
    error NoPurposes();
    error InvalidPolicy();
    error NoRows();

    constructor(Registry registry_) ERC721("dain data asset", "DAINDATA") {
        registry = registry_;
    }

    /// Mints the asset to the caller. `manifestHash` is the sha2-256 digest of the manifest,
    /// `rowCount` the number of rows the manifest describes.
    function register(
        bytes32 manifestHash,
        string calldata manifestCid_,
        uint64 rowCount,
        PolicyInput calldata input
    ) external returns (uint256 assetId) {
        if (rowCount == 0) revert NoRows();
        assetId = uint256(manifestHash);
        _mint(msg.sender, assetId);
        rows[assetId] = rowCount;
        manifestCid[assetId] = manifestCid_;
        emit AssetRegistered(assetId, msg.sender, manifestCid_);
        _setPolicy(assetId, input);
    }

    /// Replaces the terms and (re)grants consent under them.
    function setPolicy(uint256 assetId, PolicyInput calldata input) external onlyAssetOwner(assetId) {
        _setPolicy(assetId, input);
    }

    function revoke(uint256 assetId) external onlyAssetOwner(assetId) {
        Terms storage t = _policies[assetId].terms;
        if (t.revoked) revert AlreadyRevoked(assetId);
        t.revoked = true;
        t.version += 1;
        Live storage l = _live[assetId];
        l.revoked = true;
        l.version = t.version;
        emit ConsentRevoked(assetId, t.version);
        emit MetadataUpdate(assetId);
    }

    function policy(uint256 assetId) external view returns (Policy memory) {
        return _policies[assetId];
    }

    /// Whether `requester` may use the asset for `purpose` in a job with these settings.
    function consentFor(
        uint256 assetId,
        bytes32 purpose,
        address requester,
        bool secureAggregation,
        uint64 epsilon
    ) public view returns (Consent) {
        if (_ownerOf(assetId) == address(0)) return Consent.UnknownAsset;
        Policy storage p = _policies[assetId];
        Terms memory t = p.terms;
        if (t.revoked) return Consent.Revoked;
        if (t.expiry != 0 && block.timestamp >= t.expiry) return Consent.Expired;
        if (!_purposeAllowed[assetId][t.version][purpose]) return Consent.PurposeNotAllowed;
        if (!_requesterOk(assetId, p, t.version, requester)) return Consent.RequesterNotAllowed;
        if (t.secureAggregation && !secureAggregation) return Consent.SecureAggregationRequired;
        if (epsilon > t.maxEpsilon) return Consent.PrivacyBudgetTooHigh;
        return Consent.Allowed;
    }

    /// The owner and live terms in one read: what a round record checks per receipt.
    function live(uint256 assetId) external view returns (Live memory) {
        return _live[assetId];
    }

    /// `live` for each of `assetIds`, each packed in one word: owner in bits 0-159, expiry
    /// 160-199, version 200-231, minimum participants 232-247, revoked 248. A round record
    /// asks once for all its receipts (words decode far cheaper than structs).
    function liveWords(uint256[] calldata assetIds) external view returns (uint256[] memory words) {
        words = new uint256[](assetIds.length);
        for (uint256 i = 0; i < assetIds.length; i++) {
            Live storage l = _live[assetIds[i]];
            words[i] = uint256(uint160(l.owner)) | (uint256(l.expiry) << 160) | (uint256(l.version) << 200)
                | (uint256(l.minParticipants) << 232) | (l.revoked ? 1 << 248 : 0);
        }
    }

    function pricePerRound(uint256 assetId) external view returns (uint256) {
        return _policies[assetId].pricePerRound;
    }

    /// ERC-721 metadata JSON of the asset as a `data:application/json;base64,` URI: its
    /// consent (live, revoked or expired), policy version and content id, manifest content
    /// id, rows and terms. An expiry passing changes it without an event.
    function tokenURI(uint256 assetId) public view override returns (string memory) {
        _requireOwned(assetId);
        Policy storage p = _policies[assetId];
        Terms memory t = p.terms;
        string memory consent = "live";
        if (t.revoked) consent = "revoked";
        else if (t.expiry != 0 && block.timestamp >= t.expiry) consent = "expired";
        return AssetMetadata.tokenURI(
            AssetMetadata.Fields({
                assetId: assetId,
                consent: consent,
                policyVersion: t.version,
                policyCid: p.policyCid,
                manifestCid: manifestCid[assetId],
                rows: rows[assetId],
                purposes: p.purposes,
                expiry: t.expiry,
                secureAggregation: t.secureAggregation
            })
        );
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721, IERC165) returns (bool) {
        return interfaceId == ERC4906_INTERFACE_ID || super.supportsInterface(interfaceId);
    }

    /// Keeps the live slot's owner in step with every mint and transfer.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        _live[tokenId].owner = to;
    }

    modifier onlyAssetOwner(uint256 assetId) {
        if (ownerOf(assetId) != msg.sender) revert NotAssetOwner(assetId, msg.sender);
        _;
    }

    function _requesterOk(uint256 assetId, Policy storage p, uint32 version, address requester)
        private
        view
        returns (bool)
    {
        bool open = p.allowedRequesters.length == 0 && p.requiredIssuer == address(0);
        if (open || _requesterAllowed[assetId][version][requester]) return true;
        return p.requiredIssuer != address(0) && registry.hasCredential(p.requiredIssuer, requester);
    }

    function _setPolicy(uint256 assetId, PolicyInput calldata input) private {
        if (input.purposes.length == 0) revert NoPurposes();
        if (input.maxEpsilon == 0 || input.expiry > type(uint40).max) revert InvalidPolicy();
        Policy storage p = _policies[assetId];
        uint32 version = p.terms.version + 1;
        p.terms = Terms({
            expiry: input.expiry,
            revoked: false,
            version: version,
            minParticipants: input.minParticipants,
            secureAggregation: input.secureAggregation,
            maxEpsilon: input.maxEpsilon
        });
        p.pricePerRound = input.pricePerRound;
        p.requiredIssuer = input.requiredIssuer;
        p.purposes = input.purposes;
        p.allowedRequesters = input.allowedRequesters;
        p.policyCid = input.policyCid;
        Live storage l = _live[assetId];
        (l.expiry, l.version, l.minParticipants, l.revoked) =
            (uint40(input.expiry), version, input.minParticipants, false);
        for (uint256 i = 0; i < input.purposes.length; i++) {
            _purposeAllowed[assetId][version][input.purposes[i]] = true;
        }
        for (uint256 i = 0; i < input.allowedRequesters.length; i++) {
            _requesterAllowed[assetId][version][input.allowedRequesters[i]] = true;
        }
        emit PolicySet(assetId, version, input.policyCid);
        emit MetadataUpdate(assetId);
    }
}
