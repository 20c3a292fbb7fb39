//! ONC RPC v2 (RFC 5531).
//! (being written)
