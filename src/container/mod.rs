//! One container from one OCI runtime spec: create, start, state, kill, delete.
