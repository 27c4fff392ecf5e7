"""Pure domain logic: no Dash, no MQTT, no SQL. Everything here is plain functions and data."""
