"""Derivatives of the cell: local derivatives, the backward step, backprop through time
and the proofs that the closed forms equal differentiating the unrolled graph."""
