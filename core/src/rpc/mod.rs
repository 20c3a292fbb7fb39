//! ONC RPC v2 (RFC 5531): messages, authentication, record marking, and the sans-IO server
//! dispatcher and client, plus the portmapper program (RFC 1833).
//!
//! Layer invariants: the wire types borrow from the input and are bounded ([`auth`] gives the
//! limits); [`server::Dispatcher`] is the one place where decode failures become replies;
//! [`client::Client`] never reads a clock (every method that cares takes `now`).

pub mod auth;
pub mod client;
pub mod drc;
pub mod msg;
pub mod portmap;
pub mod record;
pub mod server;

pub use auth::{AuthFlavor, AuthStat, AuthSys, Credential, Gids, OpaqueAuth};
pub use msg::{AcceptStat, CallHeader, Message, RPC_VERSION, RejectStat, ReplyBody, ReplyHeader};
pub use record::{RecordError, RecordReader};
pub use server::{CallContext, Dispatch, Dispatcher, Peer, ProcError, Program, ProgramTable, Transport};
