"""Stand-ins for the model APIs agent CLIs call, so tests can run the real CLIs offline on 127.0.0.1."""
