"""ACP (Agent Client Protocol) agents driven and steered with watchkeeper as their client."""
