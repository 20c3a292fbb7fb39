//! MOUNT version 3 (RFC 1813 Appendix I): wire types and (later) the server program.
//!
//! Being written (issue 3).
