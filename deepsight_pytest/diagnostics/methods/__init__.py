"""The diagnostics themselves: the four DeepScan methods (X-Boundary, TELLME, SPIN,
MI-Peaks) and the per-failure readings; their plumbing is the package above."""
