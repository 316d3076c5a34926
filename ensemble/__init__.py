"""The ensemble gateway: OpenAI-compatible API that samples candidates, executes them and votes."""
