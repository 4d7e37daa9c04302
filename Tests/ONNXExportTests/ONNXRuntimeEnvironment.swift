import Foundation
import Testing

/// onnxruntime (and onnx's checker) from PyPI, in a virtualenv under `.build/onnx-venv` that the
/// first test to need it creates. Where pip cannot install them, tests that need them are
/// cancelled with pip's reason, so a machine without the index shows a skip, never a pass.
enum ONNXRuntimeEnvironment {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let virtualEnvironment = repositoryRoot.appendingPathComponent(".build/onnx-venv")
    static let runner = repositoryRoot.appendingPathComponent("scripts/onnx/run-onnxruntime.py")
    static let packages = ["onnxruntime", "onnx", "numpy"]

    /// The virtualenv's python, or why there is none; prepared once per test process.
    private static let python: Result<URL, ProcessFailure> = prepare()

    /// The python to run `runner` with; cancels the calling test when there is none.
    static func requirePython() throws -> URL {
        switch python {
        case .success(let url): return url
        case .failure(let failure):
            try Test.cancel("onnxruntime is unavailable, so the exported model was not run: \(failure.description)")
        }
    }

    /// Runs the exported model on ids[batch·length] and returns its logits[batch·length·V].
    static func logits(model: URL, ids: [Int64], batch: Int, length: Int, in folder: URL) throws -> [Float] {
        let python = try requirePython()
        let idsFile = folder.appendingPathComponent("ids-\(batch)x\(length).bin")
        let logitsFile = folder.appendingPathComponent("logits-\(batch)x\(length).bin")
        try ids.withUnsafeBytes { try Data($0).write(to: idsFile) }
        try ChildProcess.run(python, [runner.path, model.path, idsFile.path, String(batch), String(length), logitsFile.path])
        let data = try Data(contentsOf: logitsFile)
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    /// A marker written after pip succeeds tells a complete environment from an interrupted one.
    private static func prepare() -> Result<URL, ProcessFailure> {
        let python = virtualEnvironment.appendingPathComponent("bin/python")
        let ready = virtualEnvironment.appendingPathComponent(".cohort-ready")
        if FileManager.default.fileExists(atPath: ready.path) { return .success(python) }
        do {
            if !FileManager.default.fileExists(atPath: python.path) {
                try ChildProcess.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-m", "venv", virtualEnvironment.path])
            }
            try ChildProcess.run(python, ["-m", "pip", "install", "--quiet"] + packages, timeout: 900)
            _ = FileManager.default.createFile(atPath: ready.path, contents: Data())
            return .success(python)
        } catch let failure as ProcessFailure {
            return .failure(failure)
        } catch {
            return .failure(ProcessFailure(description: "\(error)"))
        }
    }
}

struct ProcessFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs helper programs (python, pip) to completion with their output in a file.
enum ChildProcess {
    static func run(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 300) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-child-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            let lastLine = output.split(separator: "\n").last.map(String.init) ?? "no output"
            let command = ([executable.lastPathComponent] + arguments.prefix(3)).joined(separator: " ")
            throw ProcessFailure(description: "\(command) exited with status \(process.terminationStatus): \(lastLine)")
        }
    }
}
