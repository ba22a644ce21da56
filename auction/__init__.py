"""The auction, in pure Python: targeting, pacing, pCTR, pricing, feed insertion.

Nothing here imports Flask, SQLAlchemy or adsmanager (an import-linter contract checks).
"""
