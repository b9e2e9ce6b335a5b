// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DataAssets} from "./DataAssets.sol";
import {Registry} from "./Registry.sol";

/// @title dain training jobs
/// @notice Lifecycle Proposed -> Approved (by governance) -> Running -> Completed, or
///         Cancelled. The reward pool is escrowed at proposal. Each round record carries one
///         receipt per asset, signed by the asset's owner (EIP-712; ERC-1271 for contract
///         wallets) over (job, round, asset, examples, epsilon, update hash); each accepted
///         receipt emits DataUsed, which is the audit trail, and a receipt that lost its
///         validity after it was signed is skipped and reported, never fatal to the record.
///         Each round has a deadline: when the elected aggregator misses it, the next live
///         candidate takes over.
///
///         A job may sample its assets per round (`sampleBps`, or `sampleCount` turned into a
///         rate when it starts): an asset is in round r's sample iff
///         keccak256(abi.encode(seed, r, assetId)) mod 10,000 < the rate, independently per
///         asset (Poisson sampling) from the job's seed, so every node computes the same sample
///         and nobody chooses it; a round record naming an asset outside the sample reverts.
///
///         Pay is computed here from what the records proved, never chosen by a party: each
///         used asset's price per round first, then a floor share split equally among the
///         assets used in every round paid for, then the rest by examples x quality, where
///         quality is a robust statistic of the values aggregators recorded (see
///         `dain.incentives.quality`). Settlement runs per asset, in bounded batches anyone
///         may push (`settle`); each owner then claims its asset's amount.
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

    /// Why a receipt in a round record was skipped rather than accepted.
    enum SkipReason {
        Revoked, // its owner revoked consent after signing
        Expired, // its consent expired
        PolicyChanged, // its owner's new policy no longer allows this job
        AssetTransferred, // the asset changed hands: its new owner did not sign
        InvalidSignature, // the owner's signature does not verify
        OverBudget, // its epsilon exceeds what is left of the job's privacy budget
        TooFewParticipants // the round had fewer receipts than its policy asks for
    }

    /// What a requester proposes. Epsilon in millionths; NO_EPSILON_LIMIT = not private.
    struct JobTerms {
        bytes32 purpose;
        uint32 rounds;
        uint64 roundDuration;
        uint64 maxEpsilon;
        bool secureAggregation;
        uint16 maxAssets; // most assets that may enroll: bounds every loop over them
        uint16 sampleBps; // each asset's chance to be in a round's sample; 0 or 10,000: all
        uint16 sampleCount; // or: about this many assets a round (a rate fixed at start)
        uint256 rewardPool;
        string specCid;
        string modelCid;
    }

    struct Job {
        address requester;
        uint32 rounds;
        uint32 currentRound;
        Status status;
        bool secureAggregation;
        uint16 maxAssets;
        bytes32 purpose;
        uint64 roundDuration;
        uint64 roundOpenedAt;
        uint64 maxEpsilon;
        uint64 epsilonSpent;
        uint64 seedBlock; // the block whose hash fixes the seed: the start's own block
        bool valued; // some round recorded values: settlement reads them
        uint16 sampleBps; // each asset's chance per round to be sampled; 0: every asset
        uint16 sampleCount; // as proposed; at start it becomes sampleBps over those enrolled
        uint256 rewardPool;
        uint256 pricePerRound; // sum of enrolled assets' prices
        bytes32 seed; // 0 until drawn
        string specCid;
        string modelCid; // latest global model
    }

    /// One storage slot: a receipt's check reads it once and writes it once.
    struct Enrollment {
        bool enrolled;
        uint16 index; // position in the job's enrollment order
        uint16 minParticipants;
        uint32 policyVersion;
        uint32 roundsUsed;
        uint64 rows; // rows the asset's registration committed to
        uint64 examples; // examples over its accepted receipts
    }

    struct Receipt {
        uint256 assetId;
        uint32 numExamples;
        uint64 epsilon; // the round's privacy loss by the owner's node, in millionths
        bytes32 updateHash;
        bytes signature;
    }

    /// What every receipt of one round record shares (in memory while it is checked).
    struct Round {
        uint256 jobId;
        uint32 round;
        bytes32 purpose;
        uint256 participants; // receipts in the record
        uint64 budget; // privacy loss the job has left
        uint16 sampleBps; // 0: every asset is in the sample
        bytes32 seed;
        uint256[] credits; // values' credits by batch; empty when the record has no values
    }

    struct RoundRecord {
        string modelCid;
        bytes32 modelHash;
        address aggregator;
        uint32 participants;
        uint64 epsilon;
        uint64 blockNumber;
    }

    struct Reputation {
        uint32 roundsCompleted;
        uint32 roundsMissed;
        uint32 updatesRejected;
        uint32 aggregationsMissed;
    }

    /// A closed job's payout, built asset by asset in enrollment order.
    struct Settlement {
        uint16 tallied; // enrolled assets settled so far
        uint16 contributors; // ... of which took part in a round
        uint16 full; // ... of which took part in every round paid for
        uint16 floorBps; // the floor share when the job closed
        uint32 roundsPaid; // rounds the payout covers
        bool done; // every asset settled: each one's amount is fixed
        bool byExamples; // every weight was 0: the rest goes by examples alone
        uint256 pool; // what the owners share
        uint256 prices; // prices owed for rounds used
        uint256 weights; // sum of examples x quality
        uint256 examples; // sum of examples
        uint256 floorPool; // split equally among the assets used in every round
        uint256 sharePool; // split by weight
    }

    /// One asset's place in its job's settlement (one slot). Amounts are cut from running
    /// sums (`*Before`), so the parts add up to the pools exactly, with no dust.
    struct Share {
        bool claimed;
        bool full; // took part in every round paid for it was sampled for
        uint16 quality;
        uint16 fullRank; // among the assets used in every round, in enrollment order
        uint96 weightsBefore;
        uint96 examplesBefore;
    }

    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint256 jobId,uint32 round,uint256 assetId,uint32 numExamples,uint64 epsilon,bytes32 updateHash)"
    );
    uint64 public constant NO_EPSILON_LIMIT = type(uint64).max;
    /// Most assets any job may take, whatever governance sets: a round record with this
    /// many receipts, and each settlement batch, stay far inside a 30M-gas block.
    uint16 public constant MAX_ASSETS_PER_JOB = 256;
    /// Most rounds a job may have: settling a batch of assets reads each round's values once.
    uint32 public constant MAX_ROUNDS = 1000;
    /// Values at or above this earn full credit; an asset's quality is 0 .. FULL_AT.
    uint256 public constant FULL_AT = 500;
    /// Fewer aggregators than this valued an asset: its quality stays FULL_AT.
    uint256 public constant MIN_JUDGES = 3;
    /// Assets whose values of one round share a storage slot, and so are settled together:
    /// `complete` and `cancel` settle the first batch themselves, `settle` the others.
    uint256 public constant SETTLE_BATCH = 24;
    uint256 private constant CREDIT_BITS = 10; // a credit + 1 (0: no value), at most 501
    uint256 private constant CREDIT_MASK = (1 << CREDIT_BITS) - 1;
    uint256 private constant VALUER_SHIFT = 240; // the slot's top 16 bits: who valued
    /// Gas a contract wallet gets to approve a receipt (ERC-1271): a Safe needs far less.
    uint256 public constant WALLET_GAS = 50_000;
    /// A sampling rate's scale: basis points of the enrolled assets.
    uint16 public constant SAMPLE_SCALE = 10_000;

    IERC20 public immutable token;
    DataAssets public immutable assets;
    Registry public immutable registry;
    address public immutable governance; // the timelock that executes passed proposals

    uint16 public floorShareBps = 1000; // network parameter: share of the pool split equally
    uint16 public maxAssetsPerJob; // network parameter: at most MAX_ASSETS_PER_JOB
    uint256 public minRewardPool; // network parameter: the smallest pool a job may offer
    uint256 public jobCount;
    mapping(uint256 => Job) private _jobs;
    mapping(uint256 => uint256[]) private _enrolled;
    mapping(uint256 => mapping(uint256 => Enrollment)) private _enrollment;
    mapping(uint256 => mapping(uint256 => uint256)) private _assetPrice;
    mapping(uint256 => mapping(uint256 => address)) private _enrolledBy;
    mapping(uint256 => address[]) private _candidates;
    mapping(uint256 => mapping(address => uint16)) private _candidateNumber; // 1 + its index
    mapping(uint256 => mapping(address => uint256[])) private _ownerAssets;
    mapping(uint256 => mapping(uint32 => RoundRecord)) private _rounds;
    mapping(address => Reputation) private _reputation;
    /// Per job, round and batch of SETTLE_BATCH assets (by enrollment index), the credit each
    /// recorded value earned, plus one (0: no value), and in the top bits the aggregator
    /// that recorded them (its candidate index): a round of values costs one storage write
    /// per 24 assets.
    mapping(uint256 => mapping(uint32 => mapping(uint256 => uint256))) private _credits;
    mapping(uint256 => Settlement) private _settlements;
    mapping(uint256 => mapping(uint256 => Share)) private _shares;
    /// X25519 keys the owners published for secure aggregation, per job and asset
    mapping(uint256 => mapping(uint256 => bytes32)) public agreementKey;

    event JobProposed(uint256 indexed jobId, address indexed requester, bytes32 purpose, uint256 rewardPool);
    event JobApproved(uint256 indexed jobId);
    event AssetEnrolled(uint256 indexed jobId, uint256 indexed assetId, address indexed owner, uint32 policyVersion);
    event JobStarted(uint256 indexed jobId, uint64 seedBlock, uint256 enrolled);
    event SeedDrawn(uint256 indexed jobId, bytes32 seed);
    event SeedDelayed(uint256 indexed jobId, uint64 seedBlock);
    event RoundRecorded(
        uint256 indexed jobId, uint32 indexed round, string modelCid, address aggregator, uint32 participants, uint64 epsilon
    );
    event DataUsed(
        uint256 indexed jobId,
        uint256 indexed assetId,
        address indexed owner,
        uint32 round,
        bytes32 purpose,
        uint32 policyVersion,
        uint32 numExamples,
        uint64 epsilon,
        bytes32 updateHash
    );
    event ReceiptSkipped(uint256 indexed jobId, uint256 indexed assetId, uint32 round, SkipReason reason);
    event UpdateRejected(uint256 indexed jobId, uint32 indexed round, address indexed participant);
    event JobCompleted(uint256 indexed jobId);
    event RoundAborted(uint256 indexed jobId, uint32 indexed round, address aggregator, uint32 survivors);
    event JobCancelled(uint256 indexed jobId, uint256 refund);
    event PoolRefunded(uint256 indexed jobId, address indexed requester, uint256 amount);
    event JobSettled(uint256 indexed jobId, uint256 toOwners, uint256 contributors);
    event RewardClaimed(uint256 indexed jobId, uint256 indexed assetId, address indexed owner, uint256 amount);
    event NetworkParameterSet(bytes32 indexed name, uint256 value);

    error NotGovernance(address caller);
    error NotMember(address account);
    error NotRequester(uint256 jobId, address caller);
    error NotAssetOwner(uint256 assetId, address caller);
    error WrongStatus(uint256 jobId, Status actual, Status expected);
    error InvalidJob();
    error PoolBelowMinimum(uint256 pool, uint256 minimum);
    error TooManyAssets(uint256 requested, uint256 allowed);
    error JobFull(uint256 jobId, uint256 maxAssets);
    error ConsentRefused(uint256 assetId, DataAssets.Consent reason);
    error AlreadyEnrolled(uint256 jobId, uint256 assetId);
    error NotEnrolled(uint256 jobId, uint256 assetId);
    error PoolTooSmall(uint256 jobId, uint256 needed, uint256 pool);
    error NoParticipants(uint256 jobId);
    error SeedNotDrawn(uint256 jobId, uint64 seedBlock);
    error WrongRound(uint256 jobId, uint32 expected, uint32 given);
    error NotAggregator(uint256 jobId, uint32 round, address expected, address caller);
    error NoReceipts();
    error ReceiptsNotSorted(uint256 assetId);
    error TooManyExamples(uint256 assetId, uint32 claimed, uint64 rows);
    error NoExamples(uint256 assetId);
    error ValuesMismatch(uint256 values, uint256 receipts);
    error TooManyRejected(uint256 given, uint256 allowed);
    error RoundsNotFinished(uint256 jobId, uint32 done, uint32 rounds);
    error LastRoundRecorded(uint256 jobId);
    error SettlementPending(uint256 jobId, uint256 settled, uint256 enrolled);
    error NothingToSettle(uint256 jobId);
    error NothingToClaim(uint256 jobId, uint256 assetId);
    error InvalidParameter(bytes32 name);
    error MissingAgreementKey(uint256 assetId);
    error NotSecureAggregation(uint256 jobId);
    error GasTooLowForWallet(address wallet);
    error InvalidSampling(uint16 sampleBps, uint16 sampleCount);
    error SamplingWithSecureAggregation();
    error NotSampled(uint256 jobId, uint32 round, uint256 assetId);
    error SampleNotEmpty(uint256 jobId, uint32 round);

    constructor(
        IERC20 token_,
        DataAssets assets_,
        address governance_,
        uint256 minRewardPool_,
        uint16 maxAssetsPerJob_
    ) EIP712("dain Jobs", "1") {
        if (maxAssetsPerJob_ == 0 || maxAssetsPerJob_ > MAX_ASSETS_PER_JOB) revert InvalidParameter("maxAssetsPerJob");
        token = token_;
        assets = assets_;
        registry = assets_.registry();
        governance = governance_;
        minRewardPool = minRewardPool_;
        maxAssetsPerJob = maxAssetsPerJob_;
    }

    modifier onlyGovernance() {
        if (msg.sender != governance) revert NotGovernance(msg.sender);
        _;
    }

    modifier onlyMember() {
        if (!registry.isMember(msg.sender)) revert NotMember(msg.sender);
        _;
    }

    // ---- governance ------------------------------------------------------------------

    function approve(uint256 jobId) external onlyGovernance {
        _expect(jobId, Status.Proposed).status = Status.Approved;
        emit JobApproved(jobId);
    }

    function setFloorShareBps(uint16 bps) external onlyGovernance {
        if (bps > 10_000) revert InvalidParameter("floorShareBps");
        floorShareBps = bps;
        emit NetworkParameterSet("floorShareBps", bps);
    }

    function setMinRewardPool(uint256 amount) external onlyGovernance {
        minRewardPool = amount;
        emit NetworkParameterSet("minRewardPool", amount);
    }

    function setMaxAssetsPerJob(uint16 count) external onlyGovernance {
        if (count == 0 || count > MAX_ASSETS_PER_JOB) revert InvalidParameter("maxAssetsPerJob");
        maxAssetsPerJob = count;
        emit NetworkParameterSet("maxAssetsPerJob", count);
    }

    // ---- lifecycle -------------------------------------------------------------------

    /// Escrows the reward pool from the caller, who must have approved this contract first.
    function propose(JobTerms calldata t) external onlyMember returns (uint256 jobId) {
        if (
            t.rounds == 0 || t.rounds > MAX_ROUNDS || t.purpose == bytes32(0) || t.roundDuration == 0
                || t.maxEpsilon == 0 || t.maxAssets == 0
        ) {
            revert InvalidJob();
        }
        if (t.rewardPool < minRewardPool || t.rewardPool == 0) revert PoolBelowMinimum(t.rewardPool, minRewardPool);
        if (t.maxAssets > maxAssetsPerJob) revert TooManyAssets(t.maxAssets, maxAssetsPerJob);
        if (t.sampleBps > SAMPLE_SCALE || (t.sampleBps != 0 && t.sampleCount != 0) || t.sampleCount > t.maxAssets) {
            revert InvalidSampling(t.sampleBps, t.sampleCount);
        }
        // the pairwise masks would have to follow each round's sample: not built yet
        bool sampling = (t.sampleBps != 0 && t.sampleBps != SAMPLE_SCALE) || t.sampleCount != 0;
        if (sampling && t.secureAggregation) revert SamplingWithSecureAggregation();
        jobId = ++jobCount;
        Job storage j = _jobs[jobId];
        j.requester = msg.sender;
        j.purpose = t.purpose;
        j.rounds = t.rounds;
        j.status = Status.Proposed;
        j.secureAggregation = t.secureAggregation;
        j.maxAssets = t.maxAssets;
        j.sampleBps = t.sampleBps == SAMPLE_SCALE ? 0 : t.sampleBps;
        j.sampleCount = t.sampleCount;
        j.roundDuration = t.roundDuration;
        j.maxEpsilon = t.maxEpsilon;
        j.rewardPool = t.rewardPool;
        j.specCid = t.specCid;
        j.modelCid = t.modelCid;
        token.safeTransferFrom(msg.sender, address(this), t.rewardPool);
        emit JobProposed(jobId, msg.sender, t.purpose, t.rewardPool);
    }

    /// Enrolls an asset, up to the job's `maxAssets`. For a job with secure aggregation,
    /// `key` is the owner's X25519 public key for this job, which the other participants'
    /// nodes agree keys with.
    function enroll(uint256 jobId, uint256 assetId, bytes32 key) external onlyMember {
        Job storage j = _expect(jobId, Status.Approved);
        uint256 count = _enrolled[jobId].length;
        if (count >= j.maxAssets) revert JobFull(jobId, j.maxAssets);
        if (j.secureAggregation && key == bytes32(0)) revert MissingAgreementKey(assetId);
        DataAssets.Live memory terms = assets.live(assetId);
        address owner = terms.owner;
        if (owner != msg.sender) revert NotAssetOwner(assetId, msg.sender);
        if (_enrollment[jobId][assetId].enrolled) revert AlreadyEnrolled(jobId, assetId);
        DataAssets.Consent c =
            assets.consentFor(assetId, j.purpose, j.requester, j.secureAggregation, j.maxEpsilon);
        if (c != DataAssets.Consent.Allowed) revert ConsentRefused(assetId, c);
        uint256 price = assets.pricePerRound(assetId);
        uint256 needed = (j.pricePerRound + price) * j.rounds;
        if (needed > j.rewardPool) revert PoolTooSmall(jobId, needed, j.rewardPool);
        j.pricePerRound += price;
        _assetPrice[jobId][assetId] = price;
        _enrollment[jobId][assetId] = Enrollment({
            enrolled: true,
            index: uint16(count),
            minParticipants: terms.minParticipants,
            policyVersion: terms.version,
            roundsUsed: 0,
            rows: assets.rows(assetId),
            examples: 0
        });
        _enrolledBy[jobId][assetId] = owner;
        _enrolled[jobId].push(assetId);
        if (key != bytes32(0)) agreementKey[jobId][assetId] = key;
        if (_ownerAssets[jobId][owner].length == 0) {
            _candidates[jobId].push(owner);
            _candidateNumber[jobId][owner] = uint16(_candidates[jobId].length);
        }
        _ownerAssets[jobId][owner].push(assetId);
        emit AssetEnrolled(jobId, assetId, owner, terms.version);
    }

    /// Closes enrollment. The seed that elects each round's aggregator comes from the hash
    /// of the block this call lands in, which nobody knows when sending it; `drawSeed` (or
    /// the first round record) fixes it from any later block. Why the block hash and not
    /// PREVRANDAO read here: on anvil PREVRANDAO is a fresh random value per block (its
    /// header's mixHash), but py-evm (eth-tester) runs transactions with PREVRANDAO 0 and
    /// writes a random mixHash into the header only when it seals the block; the hash of
    /// the sealed block covers that mixHash on both, and on any chain. A job that samples
    /// `sampleCount` assets a round gets its rate here: count / enrolled, rounded up (each
    /// round's sample then holds about `sampleCount` assets; all of them if fewer enrolled).
    function start(uint256 jobId) external {
        Job storage j = _expect(jobId, Status.Approved);
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        uint256 count = _enrolled[jobId].length;
        if (count == 0) revert NoParticipants(jobId);
        if (j.sampleCount != 0) {
            uint256 rate = Math.ceilDiv(uint256(j.sampleCount) * SAMPLE_SCALE, count);
            j.sampleBps = rate >= SAMPLE_SCALE ? 0 : uint16(rate);
        }
        j.seedBlock = uint64(block.number);
        j.roundOpenedAt = uint64(block.timestamp);
        j.status = Status.Running;
        emit JobStarted(jobId, j.seedBlock, _enrolled[jobId].length);
    }

    /// Fixes the job's seed from the hash of its start block; anyone may call it, and every
    /// caller in every later block gets the same seed. Returns 0 when there is nothing to
    /// draw yet (in the start block itself), and past the 256 blocks in which the EVM still
    /// knows that hash, when the draw moves to this call's own block instead.
    function drawSeed(uint256 jobId) public returns (bytes32 seed) {
        Job storage j = _jobs[jobId];
        if (j.seed != bytes32(0)) return j.seed;
        if (j.status != Status.Running) revert WrongStatus(jobId, j.status, Status.Running);
        if (block.number <= j.seedBlock) return bytes32(0); // the start block is not sealed yet
        bytes32 hash = blockhash(j.seedBlock);
        if (hash == bytes32(0)) {
            j.seedBlock = uint64(block.number);
            emit SeedDelayed(jobId, j.seedBlock);
            return bytes32(0);
        }
        seed = keccak256(abi.encode(hash, jobId));
        j.seed = seed;
        emit SeedDrawn(jobId, seed);
    }

    /// Before the job runs: refunds everything. While it runs, and only before its last
    /// round is recorded: the owners keep the prices of the rounds done and the part of
    /// the rest those rounds are of all rounds; the requester gets back the remainder.
    /// The requester cancels; anyone may once the job stalled, every candidate having let
    /// the current round's deadline pass, so that what the owners earned is never locked.
    function cancel(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        if (msg.sender != j.requester && !_stalled(jobId, j)) revert NotRequester(jobId, msg.sender);
        Status status = j.status;
        if (status != Status.Proposed && status != Status.Approved && status != Status.Running) {
            revert WrongStatus(jobId, status, Status.Running);
        }
        if (status == Status.Running && j.currentRound >= j.rounds) revert LastRoundRecorded(jobId);
        uint256 pool = j.rewardPool;
        uint256 toOwners = 0;
        if (status == Status.Running && j.currentRound > 0) {
            uint256 reserved = j.pricePerRound * j.rounds;
            toOwners = j.pricePerRound * j.currentRound + ((pool - reserved) * j.currentRound) / j.rounds;
        }
        j.status = Status.Cancelled;
        emit JobCancelled(jobId, pool - toOwners);
        _refund(jobId, j, pool - toOwners);
        if (toOwners > 0) {
            _close(jobId, j, toOwners);
        } else {
            _settlements[jobId].done = true;
        }
    }

    function _stalled(uint256 jobId, Job storage j) private view returns (bool) {
        uint256 turns = _candidates[jobId].length * j.roundDuration;
        return j.status == Status.Running && block.timestamp >= j.roundOpenedAt + turns;
    }

    /// Once the last round is recorded, anyone may complete the job: the whole pool goes
    /// to the owners whose data was used, as this contract computes it.
    function complete(uint256 jobId) external nonReentrant {
        Job storage j = _expect(jobId, Status.Running);
        if (j.currentRound != j.rounds) revert RoundsNotFinished(jobId, j.currentRound, j.rounds);
        j.status = Status.Completed;
        emit JobCompleted(jobId);
        _close(jobId, j, j.rewardPool);
    }

    // ---- rounds ----------------------------------------------------------------------

    /// The round's aggregator right now: a pure function of the job seed, the round, the
    /// time since the round opened (each missed deadline moves to the next candidate) and
    /// which candidates still have a live asset in the job.
    function aggregatorOf(uint256 jobId, uint32 round) public view returns (address) {
        (address elected,) = _elect(jobId, round, block.timestamp, _seedOf(jobId));
        return elected;
    }

    /// The aggregator as it will be at time `at` (unix seconds), so that nodes can follow
    /// deadlines by their clocks between blocks.
    function aggregatorAt(uint256 jobId, uint32 round, uint256 at) external view returns (address) {
        (address elected,) = _elect(jobId, round, at, _seedOf(jobId));
        return elected;
    }

    /// The seed as drawn, or as `drawSeed` would draw it now.
    function _seedOf(uint256 jobId) private view returns (bytes32) {
        Job storage j = _jobs[jobId];
        if (j.seed != bytes32(0)) return j.seed;
        bytes32 hash = j.seedBlock != 0 && block.number > j.seedBlock ? blockhash(j.seedBlock) : bytes32(0);
        if (hash == bytes32(0)) revert SeedNotDrawn(jobId, j.seedBlock);
        return keccak256(abi.encode(hash, jobId));
    }

    function _elect(uint256 jobId, uint32 round, uint256 at, bytes32 seed)
        private
        view
        returns (address, uint256 attempt)
    {
        Job storage j = _jobs[jobId];
        address[] storage pool = _candidates[jobId];
        uint256 n = pool.length;
        if (n == 0) revert NoParticipants(jobId);
        attempt = at > j.roundOpenedAt ? (at - j.roundOpenedAt) / j.roundDuration : 0;
        uint256 base = uint256(keccak256(abi.encode(seed, round)));
        for (uint256 k = 0; k < n; k++) {
            address c = pool[(base + attempt + k) % n];
            if (_live(jobId, c)) return (c, attempt);
        }
        revert NoParticipants(jobId);
    }

    function _live(uint256 jobId, address owner) private view returns (bool) {
        uint256[] storage owned = _ownerAssets[jobId][owner];
        for (uint256 i = 0; i < owned.length; i++) {
            DataAssets.Live memory t = assets.live(owned[i]);
            if (t.owner == owner && !t.revoked && (t.expiry == 0 || block.timestamp < t.expiry)) return true;
        }
        return false;
    }

    /// Whether the asset is in round `round`'s sample of the job (always, when the job does
    /// not sample). The same function of chain data for every node: `dain.ledger.in_sample`.
    function sampled(uint256 jobId, uint32 round, uint256 assetId) external view returns (bool) {
        uint16 rate = _jobs[jobId].sampleBps;
        return rate == 0 || _inSample(_seedOf(jobId), rate, round, assetId);
    }

    function _inSample(bytes32 seed, uint16 rate, uint32 round, uint256 assetId) private pure returns (bool) {
        return rate == 0 || uint256(keccak256(abi.encode(seed, round, assetId))) % SAMPLE_SCALE < rate;
    }

    /// Rounds 1 .. `rounds` whose sample held the asset.
    function _roundsSampled(bytes32 seed, uint16 rate, uint256 assetId, uint32 rounds) private pure returns (uint32 n) {
        if (rate == 0) return rounds;
        for (uint32 r = 1; r <= rounds; r++) {
            if (_inSample(seed, rate, r, assetId)) n += 1;
        }
    }

    function receiptDigest(
        uint256 jobId,
        uint32 round,
        uint256 assetId,
        uint32 numExamples,
        uint64 epsilon,
        bytes32 updateHash
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(RECEIPT_TYPEHASH, jobId, round, assetId, numExamples, epsilon, updateHash))
        );
    }

    /// Records round `round` (the next one): the new global model, one receipt per asset
    /// whose update went into it (sorted by asset id), the aggregator's value of each
    /// receipt's update (empty, or one int16 per receipt; none in a secure-aggregation job,
    /// and never counted for the aggregator's own assets), and the participants whose
    /// updates the aggregator refused. The round's privacy loss is the largest epsilon the
    /// accepted receipts' owners signed.
    function recordRound(
        uint256 jobId,
        uint32 round,
        string calldata modelCid,
        bytes32 modelHash,
        Receipt[] calldata receipts,
        int16[] calldata values,
        address[] calldata rejected
    ) external {
        Job storage j = _expect(jobId, Status.Running);
        (uint256 attempt, bytes32 seed) = _openRound(jobId, j, round);
        if (receipts.length == 0) revert NoReceipts();
        if (values.length != 0 && (j.secureAggregation || values.length != receipts.length)) {
            revert ValuesMismatch(values.length, receipts.length);
        }
        if (rejected.length > j.maxAssets) revert TooManyRejected(rejected.length, j.maxAssets);

        Round memory ctx = Round({
            jobId: jobId,
            round: round,
            purpose: j.purpose,
            participants: receipts.length,
            budget: j.maxEpsilon == NO_EPSILON_LIMIT ? NO_EPSILON_LIMIT : j.maxEpsilon - j.epsilonSpent,
            sampleBps: j.sampleBps,
            seed: seed,
            // a batch's credits, written once each after the loop
            credits: new uint256[](values.length == 0 ? 0 : (j.maxAssets + SETTLE_BATCH - 1) / SETTLE_BATCH)
        });
        uint256[] memory ids = new uint256[](receipts.length);
        for (uint256 i = 0; i < receipts.length; i++) {
            ids[i] = receipts[i].assetId;
            if (i > 0 && ids[i] <= ids[i - 1]) revert ReceiptsNotSorted(ids[i]);
        }
        uint256[] memory live = assets.liveWords(ids); // every receipt's owner and terms, one call
        uint32 accepted = 0;
        uint64 roundEpsilon = 0;
        for (uint256 i = 0; i < receipts.length; i++) {
            Receipt calldata r = receipts[i];
            if (_acceptReceipt(ctx, j, r, live[i], values.length == 0 ? int16(0) : values[i])) {
                accepted += 1;
                if (r.epsilon > roundEpsilon) roundEpsilon = r.epsilon;
            }
        }
        if (ctx.credits.length != 0) {
            _storeCredits(ctx);
            if (!j.valued) j.valued = true;
        }

        for (uint256 i = 0; i < rejected.length; i++) {
            _reputation[rejected[i]].updatesRejected += 1;
            emit UpdateRejected(jobId, round, rejected[i]);
        }
        if (attempt > 0) _chargeMissedAggregations(jobId, round, attempt, seed);

        j.currentRound = round;
        j.modelCid = modelCid;
        j.epsilonSpent += roundEpsilon;
        j.roundOpenedAt = uint64(block.timestamp);
        _rounds[jobId][round] = RoundRecord(modelCid, modelHash, msg.sender, accepted, roundEpsilon, uint64(block.number));
        emit RoundRecorded(jobId, round, modelCid, msg.sender, accepted, roundEpsilon);
    }

    /// Closes round `round` without a new model: in a secure-aggregation job when too few
    /// clients survived to unmask the sum, in a sampling job when the round's sample holds
    /// no asset (checked here). No data was used, the model stays as it was.
    function abortRound(uint256 jobId, uint32 round, uint32 survivors) external {
        Job storage j = _expect(jobId, Status.Running);
        if (!j.secureAggregation && j.sampleBps == 0) revert NotSecureAggregation(jobId);
        (uint256 attempt, bytes32 seed) = _openRound(jobId, j, round);
        if (!j.secureAggregation) {
            uint256[] storage ids = _enrolled[jobId];
            for (uint256 i = 0; i < ids.length; i++) {
                if (_inSample(seed, j.sampleBps, round, ids[i])) revert SampleNotEmpty(jobId, round);
            }
        }
        if (attempt > 0) _chargeMissedAggregations(jobId, round, attempt, seed);
        j.currentRound = round;
        j.roundOpenedAt = uint64(block.timestamp);
        _rounds[jobId][round] = RoundRecord(j.modelCid, bytes32(0), msg.sender, 0, 0, uint64(block.number));
        emit RoundAborted(jobId, round, msg.sender, survivors);
    }

    /// Checks that `round` is the next one and the caller its elected aggregator; draws the
    /// seed if nobody has yet.
    function _openRound(uint256 jobId, Job storage j, uint32 round) private returns (uint256 attempt, bytes32 seed) {
        if (round != j.currentRound + 1 || round > j.rounds) revert WrongRound(jobId, j.currentRound + 1, round);
        seed = drawSeed(jobId);
        if (seed == bytes32(0)) revert SeedNotDrawn(jobId, j.seedBlock);
        address elected;
        (elected, attempt) = _elect(jobId, round, block.timestamp, seed);
        if (msg.sender != elected) revert NotAggregator(jobId, round, elected, msg.sender);
    }

    /// Checks one receipt and accepts it (true), or skips and reports it (false) when it
    /// lost its validity after it was signed. What only the aggregator could have got
    /// wrong (an asset not enrolled or not in the round's sample, a count its asset cannot
    /// hold) reverts the record.
    /// The hot path reads the enrollment slot once; `live` is the asset's live slot.
    function _acceptReceipt(Round memory ctx, Job storage j, Receipt calldata r, uint256 live, int16 value)
        private
        returns (bool)
    {
        Enrollment storage slot = _enrollment[ctx.jobId][r.assetId];
        Enrollment memory e = slot;
        if (!e.enrolled) revert NotEnrolled(ctx.jobId, r.assetId);
        if (ctx.sampleBps != 0 && !_inSample(ctx.seed, ctx.sampleBps, ctx.round, r.assetId)) {
            revert NotSampled(ctx.jobId, ctx.round, r.assetId);
        }
        if (r.numExamples > e.rows) revert TooManyExamples(r.assetId, r.numExamples, e.rows);
        if (r.numExamples == 0) revert NoExamples(r.assetId);
        // the asset's live slot (DataAssets.liveWords): owner, expiry, version, minimum, revoked
        address owner = address(uint160(live));
        uint256 expiry = uint40(live >> 160);
        uint32 version = uint32(live >> 200);
        SkipReason reason;
        if (live >> 248 != 0) {
            reason = SkipReason.Revoked;
        } else if (expiry != 0 && block.timestamp >= expiry) {
            reason = SkipReason.Expired;
        } else if (version != e.policyVersion && !_stillAllowed(j, r.assetId)) {
            reason = SkipReason.PolicyChanged;
        } else if (!_signedByOwner(ctx, r, owner)) {
            reason = _enrolledBy[ctx.jobId][r.assetId] != owner ? SkipReason.AssetTransferred : SkipReason.InvalidSignature;
        } else if (r.epsilon > ctx.budget) {
            reason = SkipReason.OverBudget;
        } else if (uint16(live >> 232) > ctx.participants || e.minParticipants > ctx.participants) {
            reason = SkipReason.TooFewParticipants;
        } else {
            slot.roundsUsed = e.roundsUsed + 1;
            slot.examples = e.examples + r.numExamples;
            // an aggregator never values its own data
            if (ctx.credits.length != 0 && owner != msg.sender) _addCredit(ctx, e.index, value);
            emit DataUsed(
                ctx.jobId, r.assetId, owner, ctx.round, ctx.purpose, version, r.numExamples, r.epsilon, r.updateHash
            );
            return true;
        }
        emit ReceiptSkipped(ctx.jobId, r.assetId, ctx.round, reason);
        return false;
    }

    /// The owner changed the terms since enrolling: they must still allow this job.
    function _stillAllowed(Job storage j, uint256 assetId) private view returns (bool) {
        return assets.consentFor(assetId, j.purpose, j.requester, j.secureAggregation, j.maxEpsilon)
            == DataAssets.Consent.Allowed;
    }

    /// An owner's key signed the receipt, or, for a contract wallet, the wallet approves it
    /// (ERC-1271). The plain signature is tried first: it needs no call to the owner.
    function _signedByOwner(Round memory ctx, Receipt calldata r, address owner) private view returns (bool) {
        bytes32 digest = receiptDigest(ctx.jobId, ctx.round, r.assetId, r.numExamples, r.epsilon, r.updateHash);
        bytes calldata signature = r.signature;
        if (signature.length == 65) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
            if (err == ECDSA.RecoverError.NoError && signer == owner) return true;
        }
        return _walletApproves(owner, digest, signature);
    }

    /// ERC-1271, as OpenZeppelin's SignatureChecker.isValidERC1271SignatureNow, but with the
    /// wallet's gas capped at WALLET_GAS and one word of its answer read: a wallet's owner
    /// could otherwise burn the whole record's gas, or flood its memory with return data,
    /// and stall every round it takes part in. An owner without code (a transferred asset's
    /// new owner, say) answers nothing, which is a no.
    function _walletApproves(address wallet, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool approved)
    {
        // the aggregator must leave the wallet its full allowance (EIP-150 keeps back 1/64):
        // a record short of gas would otherwise turn wallets' receipts into refusals
        if (gasleft() < WALLET_GAS + WALLET_GAS / 63 + 2_000) revert GasTooLowForWallet(wallet);
        bytes memory query = abi.encodeCall(IERC1271.isValidSignature, (digest, signature));
        bytes4 magic = IERC1271.isValidSignature.selector;
        assembly ("memory-safe") {
            // the answer goes to scratch space: only its first word is ever copied
            let ok := staticcall(WALLET_GAS, wallet, add(query, 0x20), mload(query), 0, 0x20)
            approved := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0), magic)))
        }
    }

    /// Notes one value's credit (0 .. FULL_AT) for the asset at enrollment `index`.
    function _addCredit(Round memory ctx, uint16 index, int16 value) private pure {
        uint256 credit = value <= 0 ? 0 : (uint256(int256(value)) > FULL_AT ? FULL_AT : uint256(int256(value)));
        ctx.credits[index / SETTLE_BATCH] |= (credit + 1) << ((index % SETTLE_BATCH) * CREDIT_BITS);
    }

    /// Writes the round's credits, each batch's word tagged with who recorded them.
    function _storeCredits(Round memory ctx) private {
        uint256 valuer = uint256(_candidateNumber[ctx.jobId][msg.sender] - 1) << VALUER_SHIFT;
        mapping(uint256 => uint256) storage words = _credits[ctx.jobId][ctx.round];
        for (uint256 b = 0; b < ctx.credits.length; b++) {
            if (ctx.credits[b] != 0) words[b] = ctx.credits[b] | valuer;
        }
    }

    function _chargeMissedAggregations(uint256 jobId, uint32 round, uint256 attempt, bytes32 seed) private {
        address[] storage pool = _candidates[jobId];
        uint256 n = pool.length;
        uint256 base = uint256(keccak256(abi.encode(seed, round)));
        uint256 misses = attempt < n ? attempt : n;
        for (uint256 k = 0; k < misses; k++) {
            address c = pool[(base + k) % n];
            if (c != msg.sender && _live(jobId, c)) _reputation[c].aggregationsMissed += 1;
        }
    }

    // ---- settlement and rewards ------------------------------------------------------

    /// Settles the next `batches` batches of SETTLE_BATCH assets of a completed or
    /// cancelled job, in enrollment order; anyone may call it. Returns how many assets are
    /// left to settle.
    function settle(uint256 jobId, uint256 batches) external nonReentrant returns (uint256 left) {
        Settlement storage s = _settlements[jobId];
        Status status = _jobs[jobId].status;
        if ((status != Status.Completed && status != Status.Cancelled) || s.done) revert NothingToSettle(jobId);
        return _settle(jobId, batches);
    }

    /// Pays the asset's reward to its current owner (pull payment), once the job is settled.
    function claim(uint256 jobId, uint256 assetId) external nonReentrant {
        if (assets.ownerOf(assetId) != msg.sender) revert NotAssetOwner(assetId, msg.sender);
        Settlement storage s = _settlements[jobId];
        if (!s.done) revert SettlementPending(jobId, s.tallied, _enrolled[jobId].length);
        uint256 amount = owed(jobId, assetId);
        if (amount == 0) revert NothingToClaim(jobId, assetId);
        _shares[jobId][assetId].claimed = true;
        token.safeTransfer(msg.sender, amount);
        emit RewardClaimed(jobId, assetId, msg.sender, amount);
    }

    /// What the asset can claim from the job now: 0 until the job is settled, and after
    /// the claim.
    function owed(uint256 jobId, uint256 assetId) public view returns (uint256) {
        Settlement storage s = _settlements[jobId];
        Share memory share = _shares[jobId][assetId];
        Enrollment memory e = _enrollment[jobId][assetId];
        if (!s.done || share.claimed || e.roundsUsed == 0) return 0;
        uint256 amount = _assetPrice[jobId][assetId] * e.roundsUsed;
        if (share.full) {
            amount += _cut(s.floorPool, share.fullRank, 1, s.full);
        }
        if (s.byExamples) {
            amount += _cut(s.sharePool, share.examplesBefore, e.examples, s.examples);
        } else {
            amount += _cut(s.sharePool, share.weightsBefore, e.examples * share.quality, s.weights);
        }
        return amount;
    }

    /// The part of `pool` between running sums `before` and `before + mine` of `total`.
    function _cut(uint256 pool, uint256 before, uint256 mine, uint256 total) private pure returns (uint256) {
        if (total == 0) return 0;
        return Math.mulDiv(pool, before + mine, total) - Math.mulDiv(pool, before, total);
    }

    function _refund(uint256 jobId, Job storage j, uint256 amount) private {
        if (amount == 0) return;
        token.safeTransfer(j.requester, amount);
        emit PoolRefunded(jobId, j.requester, amount);
    }

    /// Starts settling a job whose owners share `toOwners`, and settles a first batch.
    function _close(uint256 jobId, Job storage j, uint256 toOwners) private {
        Settlement storage s = _settlements[jobId];
        s.pool = toOwners;
        s.roundsPaid = j.currentRound;
        s.floorBps = floorShareBps;
        _settle(jobId, 1);
    }

    function _settle(uint256 jobId, uint256 batches) private returns (uint256 left) {
        Settlement storage s = _settlements[jobId];
        uint256[] storage ids = _enrolled[jobId];
        Job storage j = _jobs[jobId];
        bool valued = j.valued;
        (bytes32 seed, uint16 rate) = (j.seed, j.sampleBps);
        for (uint256 b = 0; b < batches && s.tallied < ids.length; b++) {
            uint256 from = s.tallied;
            uint256 to = from + SETTLE_BATCH > ids.length ? ids.length : from + SETTLE_BATCH;
            uint256[] memory qualities = valued ? _qualities(jobId, from / SETTLE_BATCH, to - from, s.roundsPaid)
                : new uint256[](0);
            for (uint256 i = from; i < to; i++) {
                uint32 due = _roundsSampled(seed, rate, ids[i], s.roundsPaid);
                _settleAsset(jobId, s, ids[i], valued ? qualities[i - from] : FULL_AT, due);
            }
            s.tallied = uint16(to);
        }
        if (s.tallied == ids.length) _finish(jobId, s);
        return ids.length - s.tallied;
    }

    /// One asset's place in the running sums, and its owner's reputation. `due`: the rounds
    /// paid for whose sample held the asset (all of them in a job that does not sample).
    function _settleAsset(uint256 jobId, Settlement storage s, uint256 assetId, uint256 quality, uint32 due)
        private
    {
        Enrollment memory e = _enrollment[jobId][assetId];
        DataAssets.Live memory t = assets.live(assetId);
        Reputation storage rep = _reputation[t.owner];
        rep.roundsCompleted += e.roundsUsed;
        // a revoked or expired asset sat out by its owner's right, not by failure; an
        // unsampled one by the draw
        if (!t.revoked && (t.expiry == 0 || block.timestamp < t.expiry) && due > e.roundsUsed) {
            rep.roundsMissed += due - e.roundsUsed;
        }
        if (e.roundsUsed == 0) return;
        bool full = e.roundsUsed >= due;
        _shares[jobId][assetId] = Share({
            claimed: false,
            full: full,
            quality: uint16(quality),
            fullRank: s.full,
            weightsBefore: uint96(s.weights),
            examplesBefore: uint96(s.examples)
        });
        s.contributors += 1;
        if (full) s.full += 1;
        s.prices += _assetPrice[jobId][assetId] * e.roundsUsed;
        s.weights += uint256(e.examples) * quality;
        s.examples += e.examples;
    }

    /// The quality of each of `size` assets of batch `batch`, 0 .. FULL_AT: over the rounds
    /// paid for, each aggregator that valued the asset gives the floor mean of the credits
    /// it recorded; the quality is the lower median of those means, or FULL_AT when fewer
    /// than MIN_JUDGES aggregators valued the asset. One storage read per round; the means
    /// are 0 .. FULL_AT, so a histogram finds each median in one pass.
    function _qualities(uint256 jobId, uint256 batch, uint256 size, uint32 rounds)
        private
        view
        returns (uint256[] memory qualities)
    {
        uint256 valuers = _candidates[jobId].length;
        // per asset and aggregator: credit sum in the low 32 bits, count of values above
        uint256[] memory tally = new uint256[](size * valuers);
        mapping(uint32 => mapping(uint256 => uint256)) storage credits = _credits[jobId];
        for (uint32 r = 1; r <= rounds; r++) {
            uint256 word = credits[r][batch];
            if (word == 0) continue;
            uint256 valuer = word >> VALUER_SHIFT;
            unchecked {
                // sums stay below 2^32: at most MAX_ROUNDS credits of at most FULL_AT
                for (uint256 k = 0; k < size; k++) {
                    uint256 entry = (word >> (k * CREDIT_BITS)) & CREDIT_MASK;
                    if (entry != 0) tally[k * valuers + valuer] += (entry - 1) | (1 << 32);
                }
            }
        }
        qualities = new uint256[](size);
        uint256[] memory fine = new uint256[](FULL_AT + 1); // means counted by value
        uint256[] memory coarse = new uint256[]((FULL_AT >> 5) + 1); // ... by value / 32
        for (uint256 k = 0; k < size; k++) {
            qualities[k] = _lowerMedian(tally, k * valuers, valuers, fine, coarse);
        }
    }

    /// The lower median of the floor means in `tally[from .. from + count]` that have any
    /// value; FULL_AT with fewer than MIN_JUDGES. The means are 0 .. FULL_AT: a histogram in
    /// buckets of 32 finds the median's bucket, its fine counts the median. Leaves both
    /// histograms cleared.
    function _lowerMedian(
        uint256[] memory tally,
        uint256 from,
        uint256 count,
        uint256[] memory fine,
        uint256[] memory coarse
    ) private pure returns (uint256 median) {
        unchecked {
            uint256 judged = 0;
            for (uint256 v = from; v < from + count; v++) {
                uint256 values = tally[v] >> 32;
                if (values != 0) {
                    uint256 mean = (tally[v] & 0xFFFFFFFF) / values;
                    fine[mean] += 1;
                    coarse[mean >> 5] += 1;
                    judged += 1;
                }
            }
            median = FULL_AT;
            if (judged >= MIN_JUDGES) {
                uint256 rank = (judged - 1) / 2; // the lower median's place in sorted order
                uint256 seen = 0;
                uint256 bucket = 0;
                while (seen + coarse[bucket] <= rank) seen += coarse[bucket++];
                for (uint256 mean = bucket << 5;; mean++) {
                    seen += fine[mean];
                    if (seen > rank) {
                        median = mean;
                        break;
                    }
                }
            }
            for (uint256 v = from; v < from + count; v++) {
                uint256 values = tally[v] >> 32;
                if (values != 0) {
                    uint256 mean = (tally[v] & 0xFFFFFFFF) / values;
                    fine[mean] = 0;
                    coarse[mean >> 5] = 0;
                }
            }
        }
    }

    /// Every asset is settled: fix the pools. With no contributor, the owners' part goes
    /// back to the requester.
    function _finish(uint256 jobId, Settlement storage s) private {
        s.done = true;
        Job storage j = _jobs[jobId];
        if (s.contributors == 0) {
            _refund(jobId, j, s.pool);
            s.pool = 0;
            emit JobSettled(jobId, 0, 0);
            return;
        }
        uint256 rest = s.pool - s.prices;
        s.floorPool = s.full == 0 ? 0 : (rest * s.floorBps) / 10_000;
        s.sharePool = rest - s.floorPool;
        s.byExamples = s.weights == 0;
        emit JobSettled(jobId, s.pool, s.contributors);
    }

    // ---- views -----------------------------------------------------------------------

    function job(uint256 jobId) external view returns (Job memory) {
        return _jobs[jobId];
    }

    function enrolled(uint256 jobId) external view returns (uint256[] memory) {
        return _enrolled[jobId];
    }

    function enrollment(uint256 jobId, uint256 assetId) external view returns (Enrollment memory) {
        return _enrollment[jobId][assetId];
    }

    function candidates(uint256 jobId) external view returns (address[] memory) {
        return _candidates[jobId];
    }

    function roundRecord(uint256 jobId, uint32 round) external view returns (RoundRecord memory) {
        return _rounds[jobId][round];
    }

    function reputation(address member) external view returns (Reputation memory) {
        return _reputation[member];
    }

    function settlement(uint256 jobId) external view returns (Settlement memory) {
        return _settlements[jobId];
    }

    /// An asset's quality (0 .. FULL_AT) from the values recorded so far.
    function qualityOf(uint256 jobId, uint256 assetId) external view returns (uint256) {
        Enrollment memory e = _enrollment[jobId][assetId];
        if (!e.enrolled) revert NotEnrolled(jobId, assetId);
        uint256 batch = e.index / SETTLE_BATCH;
        uint256 size = _enrolled[jobId].length - batch * SETTLE_BATCH;
        if (size > SETTLE_BATCH) size = SETTLE_BATCH;
        return _qualities(jobId, batch, size, _jobs[jobId].currentRound)[e.index % SETTLE_BATCH];
    }

    function _expect(uint256 jobId, Status expected) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status != expected) revert WrongStatus(jobId, j.status, expected);
    }
}
