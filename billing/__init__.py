"""Money, the ledger's posting rules, fund allocation and the Stripe gateway, in pure Python.

Nothing here imports Flask or adsmanager (an import-linter contract checks).
"""
