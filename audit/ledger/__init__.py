"""The audit ledger: an RFC 9162 Merkle tree over the audit rows, sealed off the
write path, with C2SP signed checkpoints anyone can verify with the public key.

verifier      stand-alone (stdlib + cryptography): hashes, proofs, signed notes, checkpoints, a CLI
merkle        root and proofs from stored complete subtrees (O(log n) reads); no Django
notes         signing keys and signed notes; no Django
canonical     the canonical bytes of a row, which its leaf hashes
sequencer     queued rows → leaves and subtree hashes, in batches, one sequencer at a time
checkpoints   the configured key, signed tree heads, stored checkpoints
proofs        inclusion and consistency proofs as the API serves them
verification  verify_ledger: every leaf, the stored tree and the checkpoints, against the rows

Why this design (sequencing after commit, the tree, signed checkpoints, the signer's record, witnesses):
docs/architecture.md, Decisions.
"""
