"""The workflow controller: expands templates into a node tree and drives it to completion."""
