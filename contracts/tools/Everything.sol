// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

// One compilation unit holding every dain contract, for static analysis (slither) to see
// them all at once. Nothing deploys it.
import {DainToken} from "../DainToken.sol";
import {DainTimelock} from "../DainTimelock.sol";
import {DainGovernor} from "../DainGovernor.sol";
import {Registry} from "../Registry.sol";
import {DataAssets} from "../DataAssets.sol";
import {Jobs} from "../Jobs.sol";
