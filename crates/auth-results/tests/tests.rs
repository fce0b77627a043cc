//! The integration tests of sendwell-auth-results, one binary.

/// The 23 parse vectors of the authres test file, and its generation vectors for the
/// methods Sendwell writes.
mod authres_vectors;
/// Property tests: generated headers parse back identically whatever the sender wrote;
/// the parser never panics.
mod proptests;
