// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title A minimal contract wallet, for tests only
/// @notice Stands in for an institution's smart-contract wallet (a Safe, say): it holds
///         assets and acts through `execute`, which only its key may call, and it approves
///         a signed message (ERC-1271) when its key signed it. Its key can also make it
///         greedy: then asking it burns all the gas it is given, as a hostile wallet would.
///         Not deployed by dain.
contract ContractWallet is IERC1271 {
    address public immutable keyHolder;
    bool public greedy;

    error NotKeyHolder(address caller);
    error CallFailed(bytes reason);

    constructor(address keyHolder_) {
        keyHolder = keyHolder_;
    }

    /// Calls `target` with `data` as this wallet.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != keyHolder) revert NotKeyHolder(msg.sender);
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) revert CallFailed(result);
        return result;
    }

    function setGreedy(bool on) external {
        if (msg.sender != keyHolder) revert NotKeyHolder(msg.sender);
        greedy = on;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (greedy) {
            while (true) {} // burns whatever gas the caller forwarded
        }
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        bool valid = err == ECDSA.RecoverError.NoError && signer == keyHolder;
        return valid ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }

    /// Accepts asset tokens sent with safeTransferFrom.
    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }
}
