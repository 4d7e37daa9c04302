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

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// A raw connection to 127.0.0.1:port, to use inside its `executeThenClose`.
    static func connect(port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// A connection that sends nothing and reads nothing, to take up one of the server's slots;
    /// the caller closes it.
    static func connectIdle(port: Int) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    }

    /// Sends `request` as is and returns every byte of the answer as text.
    static func exchange(_ request: String, port: Int) async throws -> String {
        try await connect(port: port).executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var reply = ByteBuffer()
            for try await chunk in inbound {
                reply.writeImmutableBuffer(chunk)
            }
            return String(buffer: reply)
        }
    }

    /// Sends `request` as is, then one more byte every `trickleInterval` (when given) as a
    /// slowloris client does, until the server closes the connection. Returns what the server
    /// sent before closing (empty when it closed without a word, or reset the connection), or
    /// nil when the connection was still open after `limit`.
    static func answerBeforeClose(_ request: String, trickleInterval: Duration? = nil, within limit: Duration,
                                  port: Int) async throws -> String? {
        try await connect(port: port).executeThenClose { inbound, outbound in
            // Fails when the server has closed already; reading then tells what it answered.
            try? await outbound.write(ByteBuffer(string: request))
            return await withTaskGroup(of: String??.self) { group in
                group.addTask {
                    var reply = ByteBuffer()
                    do {
                        for try await chunk in inbound { reply.writeImmutableBuffer(chunk) }
                    } catch {}
                    return .some(String(buffer: reply))
                }
                group.addTask {
                    try? await Task.sleep(for: limit)
                    return .some(nil)
                }
                if let trickleInterval {
                    group.addTask {
                        while (try? await Task.sleep(for: trickleInterval)) != nil,
                              (try? await outbound.write(ByteBuffer(string: "a"))) != nil {}
                        return nil
                    }
                }
                while let finished = await group.next() {
                    if let answer = finished {
                        group.cancelAll()
                        return answer
                    }
                }
                preconditionFailure("the reading and the timing task both ended without a result")
            }
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
