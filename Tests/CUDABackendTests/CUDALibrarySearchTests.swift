import Foundation
import Testing
@testable import CUDABackend

struct CUDALibrarySearchTests {
    @Test func theConfiguredFolderComesFirstThenTheLoaderThenWheels() throws {
        let site = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-site-\(UUID().uuidString)")
        let wheel = site.appendingPathComponent("lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib")
        try FileManager.default.createDirectory(at: wheel, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: site) }
        try #require(FileManager.default.createFile(atPath: wheel.appendingPathComponent("libnvrtc.so.12").path, contents: Data()))
        let search = CUDALibrarySearch(environment: ["COHORT_CUDA_LIBRARY_PATH": "/opt/a:/opt/b", "VIRTUAL_ENV": site.path])
        let candidates = search.candidates(for: .nvrtc)
        #expect(candidates.prefix(2) == ["/opt/a/libnvrtc.so.13", "/opt/a/libnvrtc.so.12"])
        #expect(candidates.firstIndex(of: "libnvrtc.so.12")! > candidates.firstIndex(of: "/opt/b/libnvrtc.so")!)
        #expect(candidates.last == wheel.appendingPathComponent("libnvrtc.so.12").path)
    }

    @Test func theDriverIsNeverTakenFromAWheel() {
        #expect(CUDALibrary.driver.wheelFolders.isEmpty)
        let candidates = CUDALibrarySearch(environment: [:]).candidates(for: .driver)
        #expect(candidates.allSatisfy { !$0.contains("site-packages") && !$0.contains("dist-packages") })
    }

    /// A file that is not a library is reported as found but not loadable, with the loader's reason,
    /// unless a working copy elsewhere (a GPU machine's) loads instead.
    @Test func aBrokenLibraryIsReportedWithTheLoadersReason() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cohort-cuda-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try #require(FileManager.default.createFile(atPath: folder.appendingPathComponent("libcublas.so.12").path,
                                                    contents: Data("not a library".utf8)))
        let search = CUDALibrarySearch(environment: ["COHORT_CUDA_LIBRARY_PATH": folder.path])
        do {
            let opened = try search.open(.cublas)
            #expect(!opened.path.hasPrefix(folder.path))
        } catch {
            #expect(error.description.contains("cuBLAS found but not loadable"))
            #expect(error.description.contains(folder.path))
        }
    }

    @Test func withoutADriverTheDeviceListSaysWhatIsMissing() {
        do {
            let list = try CUDADeviceList.read()
            for device in list.devices {
                #expect(device.memoryBytes > 0 && device.computeCapability.major >= 3)
            }
        } catch {
            #expect(error.description.contains("libcuda.so.1") || error.description.contains("cuInit"))
            #expect(!error.description.contains("\n"))
        }
    }
}
