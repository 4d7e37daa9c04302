import Foundation
import NIOCore
import NIOPosix

/// A minimal HTTP/1.1 client for the dashboard tests: writes raw request bytes to
/// 127.0.0.1:port and reads everything until the server closes the connection.
enum LoopbackHTTPClient {
    /// One parsed response.
    struct Reply {
        var statusCode: Int
        /// Header fields with lowercased names.
        var headers: [String: String]
        var body: String
    }

    /// `GET path` (or another method) on a connection the server closes after answering.
    static func request(_ path: String, method: String = "GET", port: Int) async throws -> Reply {
        let raw = try await exchange("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", port: port)
        return try parse(raw)
    }

    /// Sends `request` as is and returns every byte of the answer as text.
    static func exchange(_ request: String, port: Int) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var reply = ByteBuffer()
            for try await chunk in inbound {
                reply.writeImmutableBuffer(chunk)
            }
            return String(buffer: reply)
        }
    }

    struct MalformedReply: Error {
        var text: String
    }

    /// Parses one response with a Content-Length body.
    static func parse(_ raw: String) throws -> Reply {
        guard let split = raw.range(of: "\r\n\r\n") else { throw MalformedReply(text: raw) }
        let lines = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let code = Int(statusParts[1]) else { throw MalformedReply(text: raw) }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw MalformedReply(text: raw) }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Reply(statusCode: code, headers: headers, body: String(raw[split.upperBound...]))
    }
}
