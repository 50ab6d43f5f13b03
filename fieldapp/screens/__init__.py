"""One module per screen; each builds an ft.View from the Context."""
