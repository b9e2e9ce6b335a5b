// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

/// @title ERC-721 metadata of a data asset
/// @notice The JSON a wallet or explorer shows for an asset token, as a `data:` URI, so it
///         needs no server: a name, a description and the consent terms as attributes.
///         The asset's title stays off chain: the manifest that holds it is served to
///         members only, and the chain is public.
library AssetMetadata {
    struct Fields {
        uint256 assetId;
        string consent; // live, revoked or expired
        uint32 policyVersion;
        string policyCid;
        string manifestCid;
        uint64 rows;
        bytes32[] purposes;
        uint64 expiry; // 0 = never
        bool secureAggregation;
    }

    bytes16 private constant HEX = "0123456789abcdef";

    function tokenURI(Fields memory f) internal pure returns (string memory) {
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json(f))));
    }

    function json(Fields memory f) internal pure returns (string memory) {
        string memory id = Strings.toHexString(f.assetId, 32); // leading zeros kept
        string memory head = string.concat(
            '{"name":"dain data asset ', id,
            '","description":"A dataset registered on dain: its rows stay with its owner, who lets ',
            'federated training jobs use it under the consent policy named here. Consent is ',
            f.consent, '.","attributes":['
        );
        string memory terms = string.concat(
            _trait("consent", _quote(bytes(f.consent))),
            ",", _trait("policy version", Strings.toString(f.policyVersion)),
            ",", _trait("policy CID", _quote(bytes(f.policyCid))),
            ",", _trait("manifest CID", _quote(bytes(f.manifestCid))),
            ",", _trait("rows", Strings.toString(f.rows)),
            ",", _trait("secure aggregation", f.secureAggregation ? '"required"' : '"not required"')
        );
        for (uint256 i = 0; i < f.purposes.length; i++) {
            terms = string.concat(terms, ",", _trait("purpose", _quote(_trimmed(f.purposes[i]))));
        }
        if (f.expiry != 0) {
            terms = string.concat(
                terms, ',{"trait_type":"consent expires","display_type":"date","value":',
                Strings.toString(f.expiry), "}"
            );
        }
        return string.concat(head, terms, "]}");
    }

    function _trait(string memory name, string memory value) private pure returns (string memory) {
        return string.concat('{"trait_type":"', name, '","value":', value, "}");
    }

    /// A purpose tag without the zero bytes that pad it to 32.
    function _trimmed(bytes32 tag) private pure returns (bytes memory text) {
        uint256 n = 32;
        while (n > 0 && tag[n - 1] == 0) n--;
        text = new bytes(n);
        for (uint256 i = 0; i < n; i++) text[i] = tag[i];
    }

    /// `text` as a JSON string: quotes, backslashes and every control character escaped,
    /// and each byte that is not part of well-formed UTF-8 replaced by U+FFFD, so the
    /// document parses whatever an owner wrote. (Strings.escapeJSON leaves most control
    /// characters and malformed UTF-8 as they are, which strict parsers refuse.)
    function _quote(bytes memory text) private pure returns (string memory) {
        bytes memory out = new bytes(6 * text.length + 2);
        uint256 n = 0;
        out[n++] = '"';
        uint256 i = 0;
        while (i < text.length) {
            uint8 c = uint8(text[i]);
            uint256 size = _utf8Size(text, i);
            if (size == 0) {
                bytes memory replacement = "\\ufffd";
                for (uint256 k = 0; k < 6; k++) out[n++] = replacement[k];
                i++;
            } else if (c == 0x22 || c == 0x5c) {
                out[n++] = "\\";
                out[n++] = text[i++];
            } else if (c < 0x20 || c == 0x7f) {
                (out[n], out[n + 1], out[n + 2], out[n + 3]) = ("\\", "u", "0", "0");
                (out[n + 4], out[n + 5]) = (HEX[c >> 4], HEX[c & 15]);
                n += 6;
                i++;
            } else {
                for (uint256 k = 0; k < size; k++) out[n++] = text[i++];
            }
        }
        out[n++] = '"';
        bytes memory exact = new bytes(n);
        for (uint256 k = 0; k < n; k++) exact[k] = out[k];
        return string(exact);
    }

    /// How many bytes the UTF-8 sequence at `i` takes, or 0 if it is malformed
    /// (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
    function _utf8Size(bytes memory s, uint256 i) private pure returns (uint256 size) {
        uint8 c = uint8(s[i]);
        if (c < 0x80) return 1;
        (uint8 lo, uint8 hi) = (0x80, 0xbf);
        if (c >= 0xc2 && c <= 0xdf) {
            size = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            size = 3;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            size = 4;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return 0;
        }
        if (i + size > s.length) return 0;
        uint8 second = uint8(s[i + 1]);
        if (second < lo || second > hi) return 0;
        for (uint256 k = 2; k < size; k++) {
            uint8 next = uint8(s[i + k]);
            if (next < 0x80 || next > 0xbf) return 0;
        }
    }
}
