"""The card cryptography of the social security card, as the simulator computes it.

The same conventions as crypto/mac.hpp (read its header for the reasoning):
  * ciphers: "3des" (two-key 3DES, 16-byte key) and "sm4"; ECB over whole blocks
  * padding: ISO/IEC 9797-1 method 2 (80 00..., always added)
  * MAC, 3DES: ISO/IEC 9797-1 MAC algorithm 3 (single DES CBC with K1, then D(K2), E(K1)), IV 0,
    first 4 bytes; SM4: CBC, IV 0, last block folded by XOR of its four 4-byte quarters
  * session key: E(challenge || 00... to 16 bytes) under the card key (16 bytes)
  * EXTERNAL AUTHENTICATE cryptogram: first 8 bytes of E(challenge || 00... to one block)
  * PIN block: digit count || BCD (F-padded) || 80 00... to the block size, E under the session key
  * diversification: child = E(factor || ~factor) (two DES blocks or one SM4 block)

3rd-generation cards, read key RKSSSE and the HSM two-step read (the simulator's convention; the
C++ side follows it):
  * per-card keys: the internal-authentication key IAK (key-file purpose "internal") and the read
    key RK (purpose "read") are derived from their master keys like the PUK key
    (derive_card_key: levels and the province, city and card factors)
  * process key: session_key(cipher, card key, process factor of 8 bytes), E(factor || 00...)
  * INTERNAL AUTHENTICATE 00 88 00 <IAK id, default 09> 10 <factor 8 || random 8>: the card answers
    the first 8 bytes of internal_auth_result(cipher, IAK, factor, random)
    = ECB(cipher, process key, random || 00*8) (16 bytes: one SM4 block or two 3DES blocks)
  * EXTERNAL AUTHENTICATE 00 82 00 <RK id, default 0A> 10 <cryptogram 16>: the card issued two
    8-byte challenges right before (GET CHALLENGE twice, nothing in between): the first is the
    external random, the second the external process factor; the cryptogram is
    external_auth_cryptogram(cipher, RK, factor, random) = ECB(cipher, process key, random || 00*8)
  * the HSM's answer to the step-1 string: internal result (32 hex) | cryptogram (32 hex) |

Needs python3-cryptography (Debian 12: 38.0.4, which has SM4 and TripleDES).
"""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # TripleDES moves to "decrepit" in newer versions
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CIPHERS = ("3des", "sm4")


def block_size(cipher):
    return 8 if cipher == "3des" else 16


def _algorithm(cipher, key):
    key = bytes(key)
    if len(key) != 16:
        raise ValueError("keys are 16 bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cipher == "3des":
            return algorithms.TripleDES(key)
        if cipher == "sm4":
            return algorithms.SM4(key)
    raise ValueError("unknown cipher %r" % cipher)


def ecb(cipher, key, data, decrypt=False):
    data = bytes(data)
    if len(data) % block_size(cipher):
        raise ValueError("ECB data must be whole blocks")
    c = Cipher(_algorithm(cipher, key), modes.ECB())
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(data) + x.finalize()


def _des(key8, block, decrypt=False):
    return ecb("3des", bytes(key8) + bytes(key8), block, decrypt)


def pad2(data, block):
    data = bytes(data) + b"\x80"
    return data + bytes(-len(data) % block)


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def mac_alg3(key16, padded):
    h = bytes(8)
    for i in range(0, len(padded), 8):
        h = _des(key16[:8], _xor(h, padded[i:i + 8]))
    return _des(key16[:8], _des(key16[8:], h, decrypt=True))


def mac_sm4_block(key16, padded):
    h = bytes(16)
    for i in range(0, len(padded), 16):
        h = ecb("sm4", key16, _xor(h, padded[i:i + 16]))
    return h


def card_mac(cipher, key, message):
    """The card's 4-byte MAC over message (padding added here)."""
    return mac_padded(cipher, key, pad2(message, block_size(cipher)))


def mac_padded(cipher, key, padded):
    """The card's 4-byte MAC over already padded data (what a PSAM's 80 FA 05 gets)."""
    if cipher == "3des":
        return mac_alg3(key, padded)[:4]
    last = mac_sm4_block(key, padded)
    out = bytearray(4)
    for i, b in enumerate(last):
        out[i % 4] ^= b
    return bytes(out)


def session_key(cipher, card_key, challenge):
    challenge = bytes(challenge)
    return ecb(cipher, card_key, challenge + bytes(16 - len(challenge)))


def auth_cryptogram(cipher, key, challenge):
    challenge = bytes(challenge)
    return ecb(cipher, key, challenge + bytes(block_size(cipher) - len(challenge)))[:8]


def plain_pin_block(digits, block):
    digits = str(digits)
    bcd = bytes.fromhex(digits + ("F" if len(digits) % 2 else ""))
    return pad2(bytes((len(digits),)) + bcd, block)


def parse_pin_block(plain):
    """Digits from a decrypted PIN block, or None when malformed."""
    if not plain:
        return None
    n = plain[0]
    nbytes = (n + 1) // 2
    if not 4 <= n <= 16 or len(plain) < 1 + nbytes + 1:
        return None
    digits = plain[1:1 + nbytes].hex().upper()[:n]
    rest = plain[1 + nbytes:]
    if not digits.isdigit() or (n % 2 and plain[nbytes] & 0x0F != 0x0F):
        return None
    if rest[0] != 0x80 or any(rest[1:]):
        return None
    return digits


def diversify(cipher, parent, factor8):
    factor8 = bytes(factor8)
    if len(factor8) != 8:
        raise ValueError("factors are 8 bytes")
    return ecb(cipher, parent, factor8 + bytes((~b) & 0xFF for b in factor8))


def factors(card_id, historical):
    """(province, city, card) factors: docs/card.md#key-diversification."""
    card_id = str(card_id)
    return ((card_id[:2] + "0000sh").encode("ascii"), (card_id[:6] + "sx").encode("ascii"),
            bytes(historical)[5:13])


def derive_card_key(cipher, key, levels, card_id, historical):
    """A key `levels` steps above the card (3 national, 2 province, 1 city, 0 card) -> card key."""
    chain = factors(card_id, historical)
    for f in chain[3 - levels:]:
        key = diversify(cipher, key, f)
    return bytes(key)


def process_key(cipher, card_key, factor8):
    """The process key of INTERNAL/EXTERNAL AUTHENTICATE: E(factor || 00...) under the card key."""
    factor8 = bytes(factor8)
    if len(factor8) != 8:
        raise ValueError("process factors are 8 bytes")
    return session_key(cipher, card_key, factor8)


def _random_block(cipher, card_key, factor8, random8):
    random8 = bytes(random8)
    if len(random8) != 8:
        raise ValueError("authentication randoms are 8 bytes")
    return ecb(cipher, process_key(cipher, card_key, factor8), random8 + bytes(8))


def internal_auth_result(cipher, card_iak, factor, random):
    """The expected INTERNAL AUTHENTICATE result (16 bytes; the card answers the first 8)."""
    return _random_block(cipher, card_iak, factor, random)


def external_auth_cryptogram(cipher, card_rk, factor, random):
    """The 16-byte EXTERNAL AUTHENTICATE cryptogram for the read key (factor: the second of the
    card's two challenges, random: the first)."""
    return _random_block(cipher, card_rk, factor, random)
