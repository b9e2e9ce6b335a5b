// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DataAssets} from "./DataAssets.sol";

/// @title dain training jobs
/// @notice Lifecycle Proposed -> Approved (by governance) -> Running -> Completed, or
///         Cancelled before it runs. The reward pool is escrowed at proposal. Every round
///         record carries one receipt per asset, signed by the asset's owner (EIP-712) over
///         (job, round, asset, examples, update hash); each accepted receipt emits DataUsed,
///         which is the audit trail.
contract Jobs is EIP712, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Status {
        None,
        Proposed,
        Approved,
        Running,
        Completed,
        Cancelled
    }

    struct Job {
        address requester;
        bytes32 purpose;
        uint256 rewardPool;
        uint32 rounds;
        uint32 currentRound;
        Status status;
        bytes32 seed;
        string specCid; // job spec document: model, hyperparameters, features
        string modelCid; // latest global model
    }

    struct Receipt {
        uint256 assetId;
        uint32 numExamples;
        bytes32 updateHash;
        bytes signature;
    }

    struct RoundRecord {
        string modelCid;
        bytes32 modelHash;
        address aggregator;
        uint32 participants;
        uint64 blockNumber;
    }

    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint256 jobId,uint32 round,uint256 assetId,uint32 numExamples,bytes32 updateHash)"
    );

    IERC20 public immutable token;
    DataAssets public immutable assets;
    address public immutable governor;

    uint256 public jobCount;
    mapping(uint256 => Job) private _jobs;
    mapping(uint256 => uint256[]) private _enrolled;
    mapping(uint256 => mapping(uint256 => bool)) public isEnrolled;
    mapping(uint256 => mapping(uint256 => uint32)) public roundsUsed;
    mapping(uint256 => uint256[]) private _contributors;
    mapping(uint256 => mapping(uint32 => RoundRecord)) private _rounds;
    mapping(uint256 => mapping(uint256 => uint256)) public owed;

    event JobProposed(
        uint256 indexed jobId, address indexed requester, bytes32 purpose, uint256 rewardPool, uint32 rounds
    );
    event JobApproved(uint256 indexed jobId);
    event AssetEnrolled(uint256 indexed jobId, uint256 indexed assetId, address indexed owner);
    event JobStarted(uint256 indexed jobId, bytes32 seed, uint256 enrolled);
    event RoundRecorded(
        uint256 indexed jobId, uint32 indexed round, string modelCid, address aggregator, uint32 participants
    );
    event DataUsed(
        uint256 indexed jobId,
        uint256 indexed assetId,
        address indexed owner,
        uint32 round,
        bytes32 purpose,
        uint32 policyVersion,
        uint32 numExamples,
        bytes32 updateHash
    );
    event JobCompleted(uint256 indexed jobId);
    event JobCancelled(uint256 indexed jobId, uint256 refund);
    event RewardAssigned(uint256 indexed jobId, uint256 indexed assetId, uint256 amount);
    event RewardClaimed(uint256 indexed jobId, uint256 indexed assetId, address indexed owner, uint256 amount);

    error NotGovernor(address caller);
    error NotRequester(uint256 jobId, address caller);
    error NotAssetOwner(uint256 assetId, address caller);
    error WrongStatus(uint256 jobId, Status actual, Status expected);
    error InvalidJob();
    error ConsentRefused(uint256 assetId, DataAssets.Consent reason);
    error AlreadyEnrolled(uint256 jobId, uint256 assetId);
    error NotEnrolled(uint256 jobId, uint256 assetId);
    error NoParticipants(uint256 jobId);
    error WrongRound(uint256 jobId, uint32 expected, uint32 given);
    error NotAggregator(uint256 jobId, uint32 round, address expected, address caller);
    error NoReceipts();
    error ReceiptsNotSorted(uint256 assetId);
    error InvalidReceiptSignature(uint256 assetId, address signer, address owner);
    error RoundsNotFinished(uint256 jobId, uint32 done, uint32 rounds);
    error SharesMismatch(uint256 jobId);
    error NothingToClaim(uint256 jobId, uint256 assetId);

    constructor(IERC20 token_, DataAssets assets_, address governor_) EIP712("dain Jobs", "1") {
        token = token_;
        assets = assets_;
        governor = governor_;
    }

    // ---- lifecycle -------------------------------------------------------------------

    /// Escrows `rewardPool` from the caller, who must have approved this contract first.
    function propose(
        bytes32 purpose,
        uint32 rounds,
        uint256 rewardPool,
        string calldata specCid,
        string calldata modelCid
    ) external returns (uint256 jobId) {
        if (rounds == 0 || purpose == bytes32(0)) revert InvalidJob();
        jobId = ++jobCount;
        Job storage j = _jobs[jobId];
        j.requester = msg.sender;
        j.purpose = purpose;
        j.rewardPool = rewardPool;
        j.rounds = rounds;
        j.status = Status.Proposed;
        j.specCid = specCid;
        j.modelCid = modelCid;
        token.safeTransferFrom(msg.sender, address(this), rewardPool);
        emit JobProposed(jobId, msg.sender, purpose, rewardPool, rounds);
    }

    function approve(uint256 jobId) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender);
        Job storage j = _expect(jobId, Status.Proposed);
        j.status = Status.Approved;
        emit JobApproved(jobId);
    }

    function enroll(uint256 jobId, uint256 assetId) external {
        Job storage j = _expect(jobId, Status.Approved);
        if (assets.ownerOf(assetId) != msg.sender) revert NotAssetOwner(assetId, msg.sender);
        if (isEnrolled[jobId][assetId]) revert AlreadyEnrolled(jobId, assetId);
        DataAssets.Consent c = assets.consentFor(assetId, j.purpose);
        if (c != DataAssets.Consent.Allowed) revert ConsentRefused(assetId, c);
        isEnrolled[jobId][assetId] = true;
        _enrolled[jobId].push(assetId);
        emit AssetEnrolled(jobId, assetId, msg.sender);
    }

    /// Closes enrollment and fixes the seed that elects each round's aggregator.
    function start(uint256 jobId) external {
        Job storage j = _expect(jobId, Status.Approved);
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        if (_enrolled[jobId].length == 0) revert NoParticipants(jobId);
        j.seed = keccak256(abi.encode(blockhash(block.number - 1), jobId));
        j.status = Status.Running;
        emit JobStarted(jobId, j.seed, _enrolled[jobId].length);
    }

    /// Refunds the whole pool; possible until the job starts running.
    function cancel(uint256 jobId) external {
        Job storage j = _jobs[jobId];
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        if (j.status != Status.Proposed && j.status != Status.Approved) {
            revert WrongStatus(jobId, j.status, Status.Approved);
        }
        uint256 refund = j.rewardPool;
        j.rewardPool = 0;
        j.status = Status.Cancelled;
        token.safeTransfer(j.requester, refund);
        emit JobCancelled(jobId, refund);
    }

    // ---- rounds ----------------------------------------------------------------------

    /// The round's aggregator: a pure function of the job seed, the round and the owners
    /// whose enrolled assets still consent, so every node computes it without talking.
    function aggregatorOf(uint256 jobId, uint32 round) public view returns (address) {
        Job storage j = _jobs[jobId];
        uint256[] storage ids = _enrolled[jobId];
        address[] memory candidates = new address[](ids.length);
        uint256 n = 0;
        for (uint256 i = 0; i < ids.length; i++) {
            if (assets.consentFor(ids[i], j.purpose) == DataAssets.Consent.Allowed) {
                candidates[n++] = assets.ownerOf(ids[i]);
            }
        }
        if (n == 0) revert NoParticipants(jobId);
        return candidates[uint256(keccak256(abi.encode(j.seed, round))) % n];
    }

    function receiptDigest(uint256 jobId, uint32 round, uint256 assetId, uint32 numExamples, bytes32 updateHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, jobId, round, assetId, numExamples, updateHash)));
    }

    /// Records round `round` (the next one) with the new global model and one receipt per
    /// asset whose update went into it, sorted by asset id.
    function recordRound(
        uint256 jobId,
        uint32 round,
        string calldata modelCid,
        bytes32 modelHash,
        Receipt[] calldata receipts
    ) external {
        Job storage j = _expect(jobId, Status.Running);
        if (round != j.currentRound + 1) revert WrongRound(jobId, j.currentRound + 1, round);
        address aggregator = aggregatorOf(jobId, round);
        if (msg.sender != aggregator) revert NotAggregator(jobId, round, aggregator, msg.sender);
        if (receipts.length == 0) revert NoReceipts();

        bytes32 purpose = j.purpose;
        uint256 previous = 0;
        for (uint256 i = 0; i < receipts.length; i++) {
            Receipt calldata r = receipts[i];
            if (r.assetId <= previous) revert ReceiptsNotSorted(r.assetId);
            previous = r.assetId;
            _acceptReceipt(jobId, round, purpose, r);
        }

        j.currentRound = round;
        j.modelCid = modelCid;
        _rounds[jobId][round] = RoundRecord(
            modelCid, modelHash, msg.sender, uint32(receipts.length), uint64(block.number)
        );
        emit RoundRecorded(jobId, round, modelCid, msg.sender, uint32(receipts.length));
    }

    function _acceptReceipt(uint256 jobId, uint32 round, bytes32 purpose, Receipt calldata r) private {
        if (!isEnrolled[jobId][r.assetId]) revert NotEnrolled(jobId, r.assetId);
        DataAssets.Consent c = assets.consentFor(r.assetId, purpose);
        if (c != DataAssets.Consent.Allowed) revert ConsentRefused(r.assetId, c);
        address owner = assets.ownerOf(r.assetId);
        bytes32 digest = receiptDigest(jobId, round, r.assetId, r.numExamples, r.updateHash);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, r.signature);
        if (err != ECDSA.RecoverError.NoError || signer != owner) {
            revert InvalidReceiptSignature(r.assetId, signer, owner);
        }
        if (roundsUsed[jobId][r.assetId] == 0) _contributors[jobId].push(r.assetId);
        roundsUsed[jobId][r.assetId] += 1;
        emit DataUsed(
            jobId, r.assetId, owner, round, purpose, assets.policyVersion(r.assetId), r.numExamples, r.updateHash
        );
    }

    // ---- completion and rewards ------------------------------------------------------

    /// Splits the pool by `weights` over exactly the assets that took part; the rounding
    /// remainder goes to the first so that the whole pool is paid.
    function complete(uint256 jobId, uint256[] calldata assetIds, uint256[] calldata weights) external {
        Job storage j = _expect(jobId, Status.Running);
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        if (j.currentRound != j.rounds) revert RoundsNotFinished(jobId, j.currentRound, j.rounds);
        if (assetIds.length != _contributors[jobId].length || weights.length != assetIds.length) {
            revert SharesMismatch(jobId);
        }
        uint256 total = 0;
        uint256 previous = 0;
        for (uint256 i = 0; i < assetIds.length; i++) {
            if (assetIds[i] <= previous || roundsUsed[jobId][assetIds[i]] == 0 || weights[i] == 0) {
                revert SharesMismatch(jobId);
            }
            previous = assetIds[i];
            total += weights[i];
        }
        uint256 pool = j.rewardPool;
        uint256 paid = 0;
        for (uint256 i = 0; i < assetIds.length; i++) {
            uint256 amount = (pool * weights[i]) / total;
            owed[jobId][assetIds[i]] = amount;
            paid += amount;
        }
        owed[jobId][assetIds[0]] += pool - paid;
        for (uint256 i = 0; i < assetIds.length; i++) {
            emit RewardAssigned(jobId, assetIds[i], owed[jobId][assetIds[i]]);
        }
        j.status = Status.Completed;
        emit JobCompleted(jobId);
    }

    /// Pays the asset's reward to its current owner (pull payment).
    function claim(uint256 jobId, uint256 assetId) external nonReentrant {
        if (assets.ownerOf(assetId) != msg.sender) revert NotAssetOwner(assetId, msg.sender);
        uint256 amount = owed[jobId][assetId];
        if (amount == 0) revert NothingToClaim(jobId, assetId);
        owed[jobId][assetId] = 0;
        token.safeTransfer(msg.sender, amount);
        emit RewardClaimed(jobId, assetId, msg.sender, amount);
    }

    // ---- views -----------------------------------------------------------------------

    function job(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    function enrolled(uint256 jobId) external view returns (uint256[] memory) {
        return _enrolled[jobId];
    }

    function contributors(uint256 jobId) external view returns (uint256[] memory) {
        return _contributors[jobId];
    }

    function roundRecord(uint256 jobId, uint32 round) external view returns (RoundRecord memory) {
        return _rounds[jobId][round];
    }

    function _expect(uint256 jobId, Status expected) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status != expected) revert WrongStatus(jobId, j.status, expected);
    }
}
