import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.0 GET over a plain TCP socket, for container health checks: the runtime image
/// has no curl, and the admin port speaks plain HTTP on the container's own address.
enum HTTPProbe {
    /// True when `url` (http://host:port/path) answers with a 2xx status within `timeout` seconds.
    static func get(_ url: String, timeout: Int) -> Bool {
        guard let components = URLComponents(string: url), components.scheme == "http",
            let host = components.host, let port = components.port ?? Optional(80)
        else { return false }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let address = info else { return false }
        defer { freeaddrinfo(info) }
        let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else { return false }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 12 else { return false }
        let statusLine = String(decoding: buffer[0..<count], as: UTF8.self)
        return statusLine.hasPrefix("HTTP/1.") && statusLine.dropFirst(9).hasPrefix("2")
    }
}
