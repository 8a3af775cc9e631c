"""The static report site: gather (loader, model), then write (render)."""
