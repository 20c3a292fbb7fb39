//! The exports table in the syntax of Linux exports(5), parsed without allocation, and the
//! rule that says whether a client may use an export and with which identity.
//!
//! Being written (issue 3).
