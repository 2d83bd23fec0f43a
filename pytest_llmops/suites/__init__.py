"""Suite definitions: YAML suite files and the pytest items they become."""
