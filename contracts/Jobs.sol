// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {DataAssets} from "./DataAssets.sol";
import {Registry} from "./Registry.sol";

/// @title dain training jobs
/// @notice Lifecycle Proposed -> Approved (by governance) -> Running -> Completed, or
///         Cancelled (with refund of what was not spent). The reward pool is escrowed at
///         proposal. Each round record carries one receipt per asset, signed by the asset's
///         owner (EIP-712) over (job, round, asset, examples, update hash); each accepted
///         receipt emits DataUsed, which is the audit trail. Each round has a deadline:
///         when the elected aggregator misses it, the next live candidate takes over.
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

    /// What a requester proposes. Epsilon in millionths; NO_EPSILON_LIMIT = not private.
    struct JobTerms {
        bytes32 purpose;
        uint32 rounds;
        uint64 roundDuration;
        uint64 maxEpsilon;
        bool secureAggregation;
        uint256 rewardPool;
        string specCid;
        string modelCid;
    }

    struct Job {
        address requester;
        bytes32 purpose;
        uint32 rounds;
        uint32 currentRound;
        Status status;
        bool secureAggregation;
        uint64 roundDuration;
        uint64 roundOpenedAt;
        uint64 maxEpsilon;
        uint64 epsilonSpent;
        uint256 rewardPool;
        uint256 pricePerRound; // sum of enrolled assets' prices
        bytes32 seed;
        string specCid;
        string modelCid; // latest global model
    }

    /// One storage slot: a receipt's check reads it once and writes it once.
    struct Enrollment {
        bool enrolled;
        uint32 policyVersion;
        uint16 minParticipants;
        uint32 roundsUsed;
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
        uint64 epsilon;
        uint64 blockNumber;
    }

    struct Reputation {
        uint32 roundsCompleted;
        uint32 roundsMissed;
        uint32 updatesRejected;
        uint32 aggregationsMissed;
    }

    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(uint256 jobId,uint32 round,uint256 assetId,uint32 numExamples,bytes32 updateHash)"
    );
    uint64 public constant NO_EPSILON_LIMIT = type(uint64).max;

    IERC20 public immutable token;
    DataAssets public immutable assets;
    Registry public immutable registry;
    address public immutable governance; // the timelock that executes passed proposals

    uint16 public floorShareBps = 1000; // network parameter: share of the pool split equally
    uint256 public jobCount;
    mapping(uint256 => Job) private _jobs;
    mapping(uint256 => uint256[]) private _enrolled;
    mapping(uint256 => mapping(uint256 => Enrollment)) private _enrollment;
    mapping(uint256 => mapping(uint256 => uint256)) private _assetPrice;
    mapping(uint256 => address[]) private _candidates;
    mapping(uint256 => mapping(address => uint256[])) private _ownerAssets;
    mapping(uint256 => mapping(uint32 => RoundRecord)) private _rounds;
    mapping(uint256 => mapping(uint256 => uint256)) public owed;
    mapping(address => Reputation) private _reputation;
    /// X25519 keys the owners published for secure aggregation, per job and asset
    mapping(uint256 => mapping(uint256 => bytes32)) public agreementKey;

    event JobProposed(uint256 indexed jobId, address indexed requester, bytes32 purpose, uint256 rewardPool);
    event JobApproved(uint256 indexed jobId);
    event AssetEnrolled(uint256 indexed jobId, uint256 indexed assetId, address indexed owner, uint32 policyVersion);
    event JobStarted(uint256 indexed jobId, bytes32 seed, uint256 enrolled);
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
        bytes32 updateHash
    );
    event UpdateRejected(uint256 indexed jobId, uint32 indexed round, address indexed participant);
    event JobCompleted(uint256 indexed jobId);
    event RoundAborted(uint256 indexed jobId, uint32 indexed round, address aggregator, uint32 survivors);
    event JobCancelled(uint256 indexed jobId, uint256 refund);
    event RewardAssigned(uint256 indexed jobId, uint256 indexed assetId, uint256 amount);
    event RewardClaimed(uint256 indexed jobId, uint256 indexed assetId, address indexed owner, uint256 amount);
    event NetworkParameterSet(bytes32 indexed name, uint256 value);

    error NotGovernance(address caller);
    error NotMember(address account);
    error NotRequester(uint256 jobId, address caller);
    error NotAssetOwner(uint256 assetId, address caller);
    error WrongStatus(uint256 jobId, Status actual, Status expected);
    error InvalidJob();
    error ConsentRefused(uint256 assetId, DataAssets.Consent reason);
    error AlreadyEnrolled(uint256 jobId, uint256 assetId);
    error NotEnrolled(uint256 jobId, uint256 assetId);
    error PoolTooSmall(uint256 jobId, uint256 needed, uint256 pool);
    error NoParticipants(uint256 jobId);
    error WrongRound(uint256 jobId, uint32 expected, uint32 given);
    error NotAggregator(uint256 jobId, uint32 round, address expected, address caller);
    error NoReceipts();
    error TooFewParticipants(uint256 jobId, uint256 needed, uint256 given);
    error PrivacyBudgetExceeded(uint256 jobId, uint64 spent, uint64 requested, uint64 budget);
    error ReceiptsNotSorted(uint256 assetId);
    error InvalidReceiptSignature(uint256 assetId, address signer, address owner);
    error RoundsNotFinished(uint256 jobId, uint32 done, uint32 rounds);
    error SharesMismatch(uint256 jobId);
    error NothingToClaim(uint256 jobId, uint256 assetId);
    error InvalidParameter(bytes32 name);
    error MissingAgreementKey(uint256 assetId);
    error NotSecureAggregation(uint256 jobId);

    constructor(IERC20 token_, DataAssets assets_, address governance_) EIP712("dain Jobs", "1") {
        token = token_;
        assets = assets_;
        registry = assets_.registry();
        governance = governance_;
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

    // ---- lifecycle -------------------------------------------------------------------

    /// Escrows the reward pool from the caller, who must have approved this contract first.
    function propose(JobTerms calldata t) external onlyMember returns (uint256 jobId) {
        if (t.rounds == 0 || t.purpose == bytes32(0) || t.roundDuration == 0 || t.maxEpsilon == 0) {
            revert InvalidJob();
        }
        jobId = ++jobCount;
        Job storage j = _jobs[jobId];
        j.requester = msg.sender;
        j.purpose = t.purpose;
        j.rounds = t.rounds;
        j.status = Status.Proposed;
        j.secureAggregation = t.secureAggregation;
        j.roundDuration = t.roundDuration;
        j.maxEpsilon = t.maxEpsilon;
        j.rewardPool = t.rewardPool;
        j.specCid = t.specCid;
        j.modelCid = t.modelCid;
        token.safeTransferFrom(msg.sender, address(this), t.rewardPool);
        emit JobProposed(jobId, msg.sender, t.purpose, t.rewardPool);
    }

    /// Enrolls an asset. For a job with secure aggregation, `key` is the owner's X25519
    /// public key for this job, which the other participants' nodes agree keys with.
    function enroll(uint256 jobId, uint256 assetId, bytes32 key) external onlyMember {
        Job storage j = _expect(jobId, Status.Approved);
        if (j.secureAggregation && key == bytes32(0)) revert MissingAgreementKey(assetId);
        (address owner, DataAssets.Terms memory terms) = assets.liveTerms(assetId);
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
        _enrollment[jobId][assetId] = Enrollment(true, terms.version, terms.minParticipants, 0);
        _enrolled[jobId].push(assetId);
        if (key != bytes32(0)) agreementKey[jobId][assetId] = key;
        if (_ownerAssets[jobId][owner].length == 0) _candidates[jobId].push(owner);
        _ownerAssets[jobId][owner].push(assetId);
        emit AssetEnrolled(jobId, assetId, owner, terms.version);
    }

    /// Closes enrollment and fixes the seed that elects each round's aggregator.
    function start(uint256 jobId) external {
        Job storage j = _expect(jobId, Status.Approved);
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        if (_enrolled[jobId].length == 0) revert NoParticipants(jobId);
        j.seed = keccak256(abi.encode(blockhash(block.number - 1), jobId));
        j.roundOpenedAt = uint64(block.timestamp);
        j.status = Status.Running;
        emit JobStarted(jobId, j.seed, _enrolled[jobId].length);
    }

    /// Before the job runs: refunds everything. While it runs: pays the price of every
    /// round already used and refunds the rest.
    function cancel(uint256 jobId) external nonReentrant {
        Job storage j = _jobs[jobId];
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        if (j.status != Status.Proposed && j.status != Status.Approved && j.status != Status.Running) {
            revert WrongStatus(jobId, j.status, Status.Running);
        }
        uint256 refund = j.rewardPool;
        if (j.status == Status.Running) refund -= _settleUse(jobId, j);
        j.rewardPool = 0;
        j.status = Status.Cancelled;
        token.safeTransfer(j.requester, refund);
        emit JobCancelled(jobId, refund);
    }

    // ---- rounds ----------------------------------------------------------------------

    /// The round's aggregator right now: a pure function of the job seed, the round, the
    /// time since the round opened (each missed deadline moves to the next candidate) and
    /// which candidates still have a live asset in the job.
    function aggregatorOf(uint256 jobId, uint32 round) public view returns (address) {
        (address elected,) = _elect(jobId, round, block.timestamp);
        return elected;
    }

    /// The aggregator as it will be at time `at` (unix seconds), so that nodes can follow
    /// deadlines by their clocks between blocks.
    function aggregatorAt(uint256 jobId, uint32 round, uint256 at) external view returns (address) {
        (address elected,) = _elect(jobId, round, at);
        return elected;
    }

    function _elect(uint256 jobId, uint32 round, uint256 at) private view returns (address, uint256 attempt) {
        Job storage j = _jobs[jobId];
        address[] storage pool = _candidates[jobId];
        uint256 n = pool.length;
        if (n == 0) revert NoParticipants(jobId);
        attempt = at > j.roundOpenedAt ? (at - j.roundOpenedAt) / j.roundDuration : 0;
        uint256 base = uint256(keccak256(abi.encode(j.seed, round)));
        for (uint256 k = 0; k < n; k++) {
            address c = pool[(base + attempt + k) % n];
            if (_live(jobId, c)) return (c, attempt);
        }
        revert NoParticipants(jobId);
    }

    function _live(uint256 jobId, address owner) private view returns (bool) {
        uint256[] storage owned = _ownerAssets[jobId][owner];
        for (uint256 i = 0; i < owned.length; i++) {
            (address current, DataAssets.Terms memory t) = assets.liveTerms(owned[i]);
            if (current == owner && !t.revoked && (t.expiry == 0 || block.timestamp < t.expiry)) return true;
        }
        return false;
    }

    function receiptDigest(uint256 jobId, uint32 round, uint256 assetId, uint32 numExamples, bytes32 updateHash)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_TYPEHASH, jobId, round, assetId, numExamples, updateHash)));
    }

    /// Records round `round` (the next one): the new global model, the privacy loss it
    /// spent, one receipt per asset whose update went into it (sorted by asset id), and
    /// the participants whose updates the aggregator refused.
    function recordRound(
        uint256 jobId,
        uint32 round,
        string calldata modelCid,
        bytes32 modelHash,
        uint64 epsilon,
        Receipt[] calldata receipts,
        address[] calldata rejected
    ) external {
        Job storage j = _expect(jobId, Status.Running);
        if (round != j.currentRound + 1 || round > j.rounds) revert WrongRound(jobId, j.currentRound + 1, round);
        (address elected, uint256 attempt) = _elect(jobId, round, block.timestamp);
        if (msg.sender != elected) revert NotAggregator(jobId, round, elected, msg.sender);
        if (receipts.length == 0) revert NoReceipts();
        if (j.maxEpsilon != NO_EPSILON_LIMIT && j.epsilonSpent + epsilon > j.maxEpsilon) {
            revert PrivacyBudgetExceeded(jobId, j.epsilonSpent, epsilon, j.maxEpsilon);
        }

        uint256 previous = 0;
        uint256 minNeeded = 0;
        for (uint256 i = 0; i < receipts.length; i++) {
            if (receipts[i].assetId <= previous) revert ReceiptsNotSorted(receipts[i].assetId);
            previous = receipts[i].assetId;
            uint256 wanted = _acceptReceipt(jobId, j, round, receipts[i]);
            if (wanted > minNeeded) minNeeded = wanted;
        }
        if (receipts.length < minNeeded) revert TooFewParticipants(jobId, minNeeded, receipts.length);

        for (uint256 i = 0; i < rejected.length; i++) {
            _reputation[rejected[i]].updatesRejected += 1;
            emit UpdateRejected(jobId, round, rejected[i]);
        }
        if (attempt > 0) _chargeMissedAggregations(jobId, round, attempt);

        j.currentRound = round;
        j.modelCid = modelCid;
        j.epsilonSpent += epsilon;
        j.roundOpenedAt = uint64(block.timestamp);
        _rounds[jobId][round] =
            RoundRecord(modelCid, modelHash, msg.sender, uint32(receipts.length), epsilon, uint64(block.number));
        emit RoundRecorded(jobId, round, modelCid, msg.sender, uint32(receipts.length), epsilon);
    }

    /// Closes round `round` of a secure-aggregation job without a new model, when too few
    /// clients survived to unmask the sum: no data was used, the model stays as it was.
    function abortRound(uint256 jobId, uint32 round, uint32 survivors) external {
        Job storage j = _expect(jobId, Status.Running);
        if (!j.secureAggregation) revert NotSecureAggregation(jobId);
        if (round != j.currentRound + 1 || round > j.rounds) revert WrongRound(jobId, j.currentRound + 1, round);
        (address elected, uint256 attempt) = _elect(jobId, round, block.timestamp);
        if (msg.sender != elected) revert NotAggregator(jobId, round, elected, msg.sender);
        if (attempt > 0) _chargeMissedAggregations(jobId, round, attempt);
        j.currentRound = round;
        j.roundOpenedAt = uint64(block.timestamp);
        _rounds[jobId][round] = RoundRecord(j.modelCid, bytes32(0), msg.sender, 0, 0, uint64(block.number));
        emit RoundAborted(jobId, round, msg.sender, survivors);
    }

    /// Checks one receipt and returns the fewest participants its asset's policy wants.
    /// The hot path reads the enrollment slot and the asset's terms slot once each.
    function _acceptReceipt(uint256 jobId, Job storage j, uint32 round, Receipt calldata r)
        private
        returns (uint256 minParticipants)
    {
        Enrollment storage slot = _enrollment[jobId][r.assetId];
        Enrollment memory e = slot;
        if (!e.enrolled) revert NotEnrolled(jobId, r.assetId);
        (address owner, DataAssets.Terms memory t) = assets.liveTerms(r.assetId);
        if (t.revoked) revert ConsentRefused(r.assetId, DataAssets.Consent.Revoked);
        if (t.expiry != 0 && block.timestamp >= t.expiry) revert ConsentRefused(r.assetId, DataAssets.Consent.Expired);
        if (t.version != e.policyVersion) {
            // the owner changed the terms since enrolling: they must still allow this job
            DataAssets.Consent c =
                assets.consentFor(r.assetId, j.purpose, j.requester, j.secureAggregation, j.maxEpsilon);
            if (c != DataAssets.Consent.Allowed) revert ConsentRefused(r.assetId, c);
        }
        bytes32 digest = receiptDigest(jobId, round, r.assetId, r.numExamples, r.updateHash);
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, r.signature);
        if (err != ECDSA.RecoverError.NoError || signer != owner) {
            revert InvalidReceiptSignature(r.assetId, signer, owner);
        }
        slot.roundsUsed = e.roundsUsed + 1;
        emit DataUsed(jobId, r.assetId, owner, round, j.purpose, t.version, r.numExamples, r.updateHash);
        return t.minParticipants > e.minParticipants ? t.minParticipants : e.minParticipants;
    }

    function _chargeMissedAggregations(uint256 jobId, uint32 round, uint256 attempt) private {
        address[] storage pool = _candidates[jobId];
        uint256 n = pool.length;
        uint256 base = uint256(keccak256(abi.encode(_jobs[jobId].seed, round)));
        uint256 misses = attempt < n ? attempt : n;
        for (uint256 k = 0; k < misses; k++) {
            address c = pool[(base + k) % n];
            if (c != msg.sender && _live(jobId, c)) _reputation[c].aggregationsMissed += 1;
        }
    }

    // ---- completion and rewards ------------------------------------------------------

    /// Pays each used asset its price per round first. Of the rest, `floorShareBps` is split
    /// equally among the assets that took part in every round, and the remainder by
    /// `sharesBps` (summing to 10,000) over exactly the assets that took part.
    function complete(uint256 jobId, uint256[] calldata assetIds, uint16[] calldata sharesBps)
        external
        nonReentrant
    {
        Job storage j = _expect(jobId, Status.Running);
        if (msg.sender != j.requester) revert NotRequester(jobId, msg.sender);
        if (j.currentRound != j.rounds) revert RoundsNotFinished(jobId, j.currentRound, j.rounds);
        _checkShares(jobId, assetIds, sharesBps);
        uint256 remaining = j.rewardPool - _settleUse(jobId, j);

        uint256 full = 0;
        for (uint256 i = 0; i < assetIds.length; i++) {
            if (_enrollment[jobId][assetIds[i]].roundsUsed == j.rounds) full += 1;
        }
        uint256 floorEach = full == 0 ? 0 : (remaining * floorShareBps) / 10_000 / full;
        uint256 rest = remaining - floorEach * full;
        uint256 paid = 0;
        for (uint256 i = 0; i < assetIds.length; i++) {
            uint256 amount = (rest * sharesBps[i]) / 10_000;
            if (_enrollment[jobId][assetIds[i]].roundsUsed == j.rounds) amount += floorEach;
            owed[jobId][assetIds[i]] += amount;
            paid += amount;
        }
        owed[jobId][assetIds[0]] += remaining - paid; // rounding dust, so the whole pool is paid
        for (uint256 i = 0; i < assetIds.length; i++) {
            emit RewardAssigned(jobId, assetIds[i], owed[jobId][assetIds[i]]);
        }
        j.rewardPool = 0;
        j.status = Status.Completed;
        emit JobCompleted(jobId);
    }

    /// `assetIds` must be exactly the assets that took part, sorted; shares sum to 10,000.
    function _checkShares(uint256 jobId, uint256[] calldata assetIds, uint16[] calldata sharesBps) private view {
        if (assetIds.length == 0 || assetIds.length != sharesBps.length) revert SharesMismatch(jobId);
        uint256 contributors = 0;
        uint256[] storage enrolledIds = _enrolled[jobId];
        for (uint256 i = 0; i < enrolledIds.length; i++) {
            if (_enrollment[jobId][enrolledIds[i]].roundsUsed > 0) contributors += 1;
        }
        uint256 total = 0;
        uint256 previous = 0;
        for (uint256 i = 0; i < assetIds.length; i++) {
            if (assetIds[i] <= previous || _enrollment[jobId][assetIds[i]].roundsUsed == 0) {
                revert SharesMismatch(jobId);
            }
            previous = assetIds[i];
            total += sharesBps[i];
        }
        if (total != 10_000 || assetIds.length != contributors) revert SharesMismatch(jobId);
    }

    /// Owes each used asset its price for the rounds used, updates reputation, and returns
    /// what that spent of the pool.
    function _settleUse(uint256 jobId, Job storage j) private returns (uint256 spent) {
        uint256[] storage enrolledIds = _enrolled[jobId];
        for (uint256 i = 0; i < enrolledIds.length; i++) {
            uint256 assetId = enrolledIds[i];
            uint32 used = _enrollment[jobId][assetId].roundsUsed;
            uint256 price = _assetPrice[jobId][assetId] * used;
            owed[jobId][assetId] += price;
            spent += price;
            (address owner, DataAssets.Terms memory t) = assets.liveTerms(assetId);
            Reputation storage rep = _reputation[owner];
            rep.roundsCompleted += used;
            // a revoked or expired asset sat out by its owner's right, not by failure
            if (!t.revoked && (t.expiry == 0 || block.timestamp < t.expiry)) rep.roundsMissed += j.currentRound - used;
        }
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

    function _expect(uint256 jobId, Status expected) private view returns (Job storage j) {
        j = _jobs[jobId];
        if (j.status != expected) revert WrongStatus(jobId, j.status, expected);
    }
}
