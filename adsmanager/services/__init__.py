"""Use cases: each opens its transaction, applies the rules, saves. No Flask here."""
