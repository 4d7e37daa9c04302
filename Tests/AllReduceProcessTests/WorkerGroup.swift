import Foundation

/// Peer processes of the built `cohort bench allreduce-worker`, started and signalled the way a
/// crashing or frozen volunteer would be. `stop()` kills and reaps every one; call it in `defer`.
final class WorkerGroup {
    /// One round as a worker reports it (`AllReduceBenchRound` in the Peer module).
    struct Round: Decodable {
        let index: Int
        let seconds: Double
        let participants: Int
        let leftOut: Int
        let failedParts: [[Int]]
        let checksum: String?
        /// Chunk bytes copied out of other workers' memory instead of received.
        let sameHostBytes: Int
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static var executable: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/cohort")
    }

    private var processes: [Process] = []
    private var inputs: [Pipe] = []
    private var outputs: [URL] = []
    private var errorLogs: [URL] = []
    private let folder: URL

    /// Starts `count` workers with `arguments` (each also gets `--seed <index + 1>`).
    init(count: Int, arguments: [String]) throws {
        // Writing to a worker the test killed must fail the write, not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-allreduce-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        do {
            for index in 0..<count {
                try launch(index: index, arguments: arguments)
            }
        } catch {
            stop()
            throw error
        }
    }

    private func launch(index: Int, arguments: [String]) throws {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["bench", "allreduce-worker", "--seed", "\(index + 1)"] + arguments
        // Output goes to files, not pipes, so a worker can never block on a full pipe.
        let output = folder.appendingPathComponent("worker-\(index).out")
        let errors = folder.appendingPathComponent("worker-\(index).err")
        for file in [output, errors] {
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
                throw Failure(description: "cannot create \(file.path)")
            }
        }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        processes.append(process)
        inputs.append(input)
        outputs.append(output)
        errorLogs.append(errors)
    }

    func lines(of worker: Int) -> [String] {
        let text = (try? String(contentsOf: outputs[worker], encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// What `workers` logged on stderr, for failure messages.
    func logs(of workers: [Int]) -> String {
        workers.map { "worker \($0):\n" + ((try? String(contentsOf: errorLogs[$0], encoding: .utf8)) ?? "") }.joined(separator: "\n")
    }

    /// Waits until each of `workers` printed a line starting with `prefix`; returns those lines.
    func await(_ prefix: String, from workers: [Int], within seconds: Double) async throws -> [String] {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let found = workers.map { lines(of: $0).first { $0.hasPrefix(prefix) } }
            if found.allSatisfy({ $0 != nil }) { return found.map { $0! } }
            guard Date() < deadline else {
                throw Failure(description: "no '\(prefix)' within \(seconds) s; outputs: \(workers.map { lines(of: $0) })")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Reads every worker's `ready <id> <port>` line, sends all of them the member list (the
    /// workers in `clientMode` take part in client mode), and once all are connected tells them
    /// to go. Returns the workers' ids in hex.
    func introduce(clientMode: Set<Int> = []) async throws -> [String] {
        let ready = try await self.await("ready ", from: Array(processes.indices), within: 120)
        let fields = ready.map { $0.split(separator: " ") }
        let members = "members " + fields.indices.map { index in
            "\(fields[index][1]):\(fields[index][2]):1" + (clientMode.contains(index) ? ":client" : "")
        }.joined(separator: ",")
        send(members)
        _ = try await self.await("connected", from: Array(processes.indices), within: 60)
        send("go")
        return fields.map { String($0[1]) }
    }

    private func send(_ line: String) {
        for input in inputs {
            try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
        }
    }

    /// The reports of round `index` from `workers`.
    func rounds(_ index: Int, from workers: [Int]) throws -> [Round] {
        try workers.map { worker in
            let reports = try lines(of: worker).filter { $0.hasPrefix("round ") }.map {
                try JSONDecoder().decode(Round.self, from: Data($0.dropFirst("round ".count).utf8))
            }
            guard let report = reports.first(where: { $0.index == index }) else {
                throw Failure(description: "worker \(worker) reported no round \(index): \(lines(of: worker))")
            }
            return report
        }
    }

    /// Sends a real signal (SIGKILL, SIGSTOP…) to one worker.
    func deliver(_ signal: Int32, to worker: Int) {
        kill(processes[worker].processIdentifier, signal)
    }

    /// Kills every worker still running and reaps all of them.
    func stop() {
        for process in processes {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }
}
