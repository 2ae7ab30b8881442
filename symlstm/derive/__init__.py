"""Derivatives of the cell: :mod:`~symlstm.derive.backward` (local derivatives and the
backward step), :mod:`~symlstm.derive.gradients` (losses and backprop through time,
certified) and :mod:`~symlstm.derive.proofs` (the closed forms against differentiating
the unrolled graph)."""
