//! The portmapper from a host: queries (GETPORT, DUMP), registration (SET, UNSET) with
//! whichever portmapper holds port 111 (Tern's own or the system's rpcbind), and a ready
//! server for `tern portmap`.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use tern_core::rpc::portmap::{
    IPPROTO_TCP, IPPROTO_UDP, Mapping, PROGRAM, PmapList, Portmapper, SetPolicy, VERSION, procs,
};
use tern_core::xdr;

use crate::client::{RpcClient, RpcError};
use crate::server::{Server, ServerConfig, ServerHandle};

/// Mappings a host portmapper holds.
pub const CAPACITY: usize = 1024;

/// The port of `prog` version `vers` on `prot` (0: not registered).
pub fn getport(c: &mut RpcClient, prog: u32, vers: u32, prot: u32) -> Result<u32, RpcError> {
    let res = c.call(PROGRAM, VERSION, procs::GETPORT, &Mapping { prog, vers, prot, port: 0 })?;
    Ok(xdr::decode_exact(&res)?)
}

/// Every mapping the portmapper holds.
pub fn dump(c: &mut RpcClient) -> Result<Vec<Mapping>, RpcError> {
    let res = c.call(PROGRAM, VERSION, procs::DUMP, &())?;
    let list: PmapList<'_> = xdr::decode_exact(&res)?;
    Ok(list.iter().collect())
}

/// Registers a mapping; false when the portmapper refused it.
pub fn set(c: &mut RpcClient, m: Mapping) -> Result<bool, RpcError> {
    Ok(xdr::decode_exact(&c.call(PROGRAM, VERSION, procs::SET, &m)?)?)
}

/// Unregisters every protocol of a program version; false when nothing was registered.
pub fn unset(c: &mut RpcClient, prog: u32, vers: u32) -> Result<bool, RpcError> {
    let m = Mapping { prog, vers, prot: 0, port: 0 };
    Ok(xdr::decode_exact(&c.call(PROGRAM, VERSION, procs::UNSET, &m)?)?)
}

/// Registers `prog` version `vers` on the given ports with the portmapper at `pmap`
/// (normally 127.0.0.1:111), replacing an older registration of the same version.
pub fn register(pmap: SocketAddr, prog: u32, vers: u32, tcp: Option<u16>, udp: Option<u16>) -> Result<(), RpcError> {
    let mut c = RpcClient::udp(pmap)?;
    unset(&mut c, prog, vers)?;
    let ports = [(IPPROTO_TCP, tcp), (IPPROTO_UDP, udp)];
    for (prot, port) in ports.into_iter().filter_map(|(prot, port)| Some((prot, port?))) {
        if !set(&mut c, Mapping { prog, vers, prot, port: u32::from(port) })? {
            return Err(RpcError::Io(io::Error::other(format!(
                "the portmapper at {pmap} refused to register program {prog} version {vers}"
            ))));
        }
    }
    Ok(())
}

/// A running portmapper.
pub struct PortmapServer {
    /// The server's threads and addresses.
    pub handle: ServerHandle,
    /// The shared registration table.
    pub server: Server<Portmapper<CAPACITY>>,
}

/// Binds TCP and UDP on `addr` and serves the portmapper there (port 0: pick free ports, the
/// same number for both when possible is not guaranteed).
pub fn serve(addr: SocketAddr) -> io::Result<PortmapServer> {
    let tcp = TcpListener::bind(addr)?;
    let mut udp_addr = addr;
    udp_addr.set_port(tcp.local_addr()?.port());
    let udp = UdpSocket::bind(udp_addr)?;
    let port = tcp.local_addr()?.port();
    let server = Server::new(Portmapper::<CAPACITY>::new(port, SetPolicy::LoopbackOnly), ServerConfig::default());
    let handle = server.spawn(Some(tcp), Some(udp))?;
    Ok(PortmapServer { handle, server })
}
