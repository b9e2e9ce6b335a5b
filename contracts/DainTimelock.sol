// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title dain governance timelock
/// @notice Holds the network's powers (approving jobs, network parameters, admissions).
///         Passed proposals wait `minDelay` seconds here before anyone may execute them,
///         so members can react to a decision before it takes effect.
contract DainTimelock is TimelockController {
    constructor(uint256 minDelay, address admin)
        TimelockController(minDelay, new address[](0), new address[](0), admin)
    {}
}
