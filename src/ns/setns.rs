//! Chapter 03: joining the namespaces of a running process — what
//! `docker exec` does. Stub, being written.
