import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A GET to a server on this machine (the demo's own dashboard), over a plain socket: the demo
/// needs nothing more, and leaving URLSession out keeps libcurl out of a static `cohort`.
enum LocalHTTP {
    /// The body of `url` (http://127.0.0.1:PORT/PATH) when it answers 200 within `timeout` seconds.
    static func get(_ url: URL, timeout: Int = 5, maximumBytes: Int = 16 << 20) -> Data? {
        guard url.scheme == "http", let host = url.host, let port = url.port, (1...65535).contains(port) else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let path = url.path.isEmpty ? "/" : url.path
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8)
        guard send(socket, request, request.count, 0) == request.count else { return nil }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while response.count < maximumBytes {
            let received = recv(socket, &chunk, chunk.count, 0)
            guard received > 0 else { break }
            response.append(contentsOf: chunk[..<received])
        }
        return body(of: response)
    }

    /// The body of a 200 response, cut to its Content-Length when the header gives one.
    static func body(of response: Data) -> Data? {
        guard let end = response.range(of: Data("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self).split(separator: "\r\n")
        guard let status = head.first, status.split(separator: " ").dropFirst().first == "200" else { return nil }
        var body = response[end.upperBound...]
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length",
               let length = Int(parts[1].trimmingCharacters(in: .whitespaces)), length <= body.count {
                body = body.prefix(length)
            }
        }
        return Data(body)
    }
}
