"""Live voice: palabre's control of Janus AudioBridge rooms and Streaming mountpoints."""
