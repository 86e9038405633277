"""Jailbreak search: deterministic prompt mutators, a Hypothesis property per harmful case, a
guarded target model, and found jailbreaks as regression data (docs/attacks.md)."""
