import Bus
import Foundation
import Logging
import ServiceKit
import Testing

/// Start-up configuration: every problem named at once, defaults where settings are optional.
struct ConfigReaderTests {
    @Test("every missing or malformed setting is reported together")
    func collectsEveryProblem() throws {
        var reader = ConfigReader(
            environment: [
                "ADMIN_PORT": "70000", "LOG_FORMAT": "xml", "BROKER_ENDPOINT": "localhost:5555",
                "BUS_SPIN_MICROSECONDS": "forever",
            ], dotEnvPath: nil)
        _ = ProcessSettings(reading: &reader)
        _ = reader.required("DATABASE_URL")
        #expect(throws: ConfigurationError.self) { try reader.validate() }
        do {
            try reader.validate()
        } catch {
            let text = error.description
            for name in ["ADMIN_PORT", "LOG_FORMAT", "BROKER_ENDPOINT", "BUS_SPIN_MICROSECONDS", "DATABASE_URL"] {
                #expect(text.contains(name), "\(name) named")
            }
        }
    }

    @Test("without CURVE keys a process refuses to start unless BUS_INSECURE=1 says the bus runs in the clear")
    func insecureMustBeSaid() throws {
        var silent = ConfigReader(environment: [:], dotEnvPath: nil)
        _ = ProcessSettings(reading: &silent)
        do {
            try silent.validate()
            Issue.record("a process without CURVE keys or BUS_INSECURE=1 started")
        } catch {
            #expect(error.description.contains("BUS_INSECURE=1"))
        }
        var odd = ConfigReader(environment: ["BUS_INSECURE": "yes"], dotEnvPath: nil)
        _ = ProcessSettings(reading: &odd)
        #expect(throws: ConfigurationError.self) { try odd.validate() }
    }

    @Test("defaults apply when nothing is set but BUS_INSECURE")
    func defaults() throws {
        var reader = ConfigReader(environment: ["BUS_INSECURE": "1"], dotEnvPath: nil)
        let settings = ProcessSettings(reading: &reader)
        try reader.validate()
        #expect(settings.endpoints.mdp == "tcp://127.0.0.1:5555")
        #expect(settings.curve == nil)
        #expect(settings.adminPort == 0)
        #expect(settings.busSpin == .zero)
    }

    @Test("CURVE keys go together: one without the others is a problem")
    func curveKeysTogether() {
        var reader = ConfigReader(environment: ["BUS_CURVE_SERVER_KEY": String(repeating: "a", count: 40)], dotEnvPath: nil)
        _ = ProcessSettings(reading: &reader)
        #expect(throws: ConfigurationError.self) { try reader.validate() }
    }

    @Test("a .env file supplies defaults that the environment overrides")
    func dotEnv() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("env-\(UUID().uuidString)")
        try "# comment\nLOG_LEVEL=debug\nADMIN_HOST='0.0.0.0'\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        var reader = ConfigReader(environment: ["LOG_LEVEL": "error", "BUS_INSECURE": "1"], dotEnvPath: file.path)
        let settings = ProcessSettings(reading: &reader)
        try reader.validate()
        #expect(settings.logLevel == .error)
        #expect(settings.adminHost == "0.0.0.0")
    }
}
