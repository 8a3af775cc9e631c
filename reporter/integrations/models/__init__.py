"""Logged models of every flavor: signatures, `MLmodel`, URIs, the log flow, pyfunc."""
