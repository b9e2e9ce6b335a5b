// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title dain reward and voting token
/// @notice ERC-20 with vote checkpoints and delegation. Voting power counts only after a
///         holder delegates, to themselves included.
contract DainToken is ERC20, ERC20Permit, ERC20Votes {
    constructor(address treasury, uint256 supply) ERC20("dain", "DAIN") ERC20Permit("dain") {
        _mint(treasury, supply);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
