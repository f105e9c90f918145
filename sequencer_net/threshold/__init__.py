"""Threshold encryption for private sequencing: clients encrypt to the validator set's key, and
only a threshold of validators' decryption shares, released after commit, opens a transaction.

Every group operation goes through libsodium's Ed25519 bindings in PyNaCl (:mod:`.group`); no
field arithmetic is written here. ``docs/private.md`` describes the scheme and why it is safe.
"""
