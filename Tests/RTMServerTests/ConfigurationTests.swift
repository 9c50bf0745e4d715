import Foundation
import RTMCore
import RTMServer
import Testing

@Suite struct ConfigurationTests {
    func write(_ text: String, ext: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("rtm-config-\(UUID().uuidString).\(ext)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func yamlFileThenEnvironmentOverrides() throws {
        let path = try write("""
            host: 0.0.0.0
            port: 9000
            data_dir: /tmp/x
            apps:
              - app_id: 12345678901234567890123456789012
                app_certificate: 5CFd2fd1755d40ecb72977518be15d3b
                messaging_rate_limit: 50
            customers:
              - id: c1
                secret: s3cret-value
                apps: ["*"]
            """, ext: "yaml")
        let configuration = try ConfigurationLoader.load(file: path, environment: ["RTM_PORT": "9100", "RTM_HOST": "127.0.0.2"])
        #expect(configuration.port == 9100 && configuration.host == "127.0.0.2" && configuration.dataDirectory == "/tmp/x")
        #expect(configuration.apps == [.init(appID: "12345678901234567890123456789012",
                                             appCertificate: "5CFd2fd1755d40ecb72977518be15d3b", messagingRateLimit: 50)])
        #expect(configuration.customers == [.init(id: "c1", secret: "s3cret-value", apps: ["*"])])
    }

    @Test func jsonFile() throws {
        let path = try write(#"{"port": 7000, "apps": [{"app_id": "0123456789abcdef0123456789abcdef"}]}"#, ext: "json")
        let configuration = try ConfigurationLoader.load(file: path, environment: [:])
        #expect(configuration.port == 7000 && configuration.apps.first?.appCertificate == nil)
    }

    @Test func connectionSettings() throws {
        let defaults = try ConfigurationLoader.load(file: nil, environment: [:])
        #expect(defaults.idleTimeout == .seconds(75) && defaults.headerReadTimeout == .seconds(10))
        #expect(defaults.maximumConnectionsPerAddress == nil && defaults.trustedProxies.isEmpty)
        #expect(defaults.maximumConnections == nil)
        let path = try write("""
            max_connections: 5000
            idle_timeout_seconds: 30
            header_read_timeout_seconds: 5
            max_connections_per_address: 100
            trusted_proxies: [10.0.0.0/8, "::1", 192.168.1.7]
            """, ext: "yaml")
        let configuration = try ConfigurationLoader.load(file: path, environment: [:])
        #expect(configuration.idleTimeout == .seconds(30) && configuration.headerReadTimeout == .seconds(5))
        #expect(configuration.maximumConnectionsPerAddress == 100 && configuration.maximumConnections == 5000)
        #expect(configuration.trustedProxies == ["10.0.0.0/8", "::1", "192.168.1.7"])
    }

    @Test func webSocketSection() throws {
        let defaults = try ConfigurationLoader.load(file: nil, environment: [:]).gateway
        #expect(defaults.loginTimeout == .seconds(6) && defaults.maximumUnackedPeerBytes == 4 * 1024 * 1024)
        let path = try write("""
            websocket:
              login_timeout_seconds: 3
              close_timeout_seconds: 2
              max_queued_frames: 500
              max_queued_bytes: 1048576
              max_unacked_peer_messages: 100
              max_unacked_peer_bytes: 65536
              max_channel_replay_bytes: 32768
              max_inbox_bytes: 131072
            """, ext: "yaml")
        let gateway = try ConfigurationLoader.load(file: path, environment: [:]).gateway
        #expect(gateway.loginTimeout == .seconds(3) && gateway.closeTimeout == .seconds(2))
        #expect(gateway.maximumQueuedFrames == 500 && gateway.maximumQueuedBytes == 1_048_576)
        #expect(gateway.maximumUnackedPeerMessages == 100 && gateway.maximumUnackedPeerBytes == 65_536)
        #expect(gateway.maximumReplayedChannelBytes == 32_768 && gateway.maximumInboxBytes == 131_072)
    }

    @Test func invalidValuesNameTheKey() throws {
        let cases: [(String, String)] = [
            ("port: lots", "port"),
            ("colour: blue", "colour"),
            ("apps:\n  - app_id: short", "apps[0].app_id"),
            ("apps:\n  - app_id: 0123456789abcdef0123456789abcdef\n    app_certificate: abc", "apps[0].app_certificate"),
            ("customers:\n  - id: x\n    secret: 1", "customers[0].secret"),
            ("idle_timeout_seconds: 0", "idle_timeout_seconds"),
            ("header_read_timeout_seconds: -1", "header_read_timeout_seconds"),
            ("max_connections_per_address: 0", "max_connections_per_address"),
            ("max_connections: 0", "max_connections"),
            ("trusted_proxies: [10.0.0.0/33]", "trusted_proxies[0]"),
            ("trusted_proxies: [proxy.example]", "trusted_proxies[0]"),
            ("websocket: 5", "websocket"),
            ("websocket:\n  max_queued_bytes: 0", "websocket.max_queued_bytes"),
            ("websocket:\n  login_timeout: 5", "websocket.login_timeout"),
            ("websocket:\n  max_inbox_bytes: lots", "websocket.max_inbox_bytes"),
            ("node_id: bad/name\ndatabase_url: postgres://rtm@127.0.0.1/rtm", "node_id"),
        ]
        for (text, key) in cases {
            let path = try write(text, ext: "yaml")
            #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(file: path, environment: [:]) }
            do { _ = try ConfigurationLoader.load(file: path, environment: [:]) } catch let error as ConfigurationError {
                #expect(error.key == key, "\(text)")
            }
        }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(file: nil, environment: ["RTM_PORT": "x"]) }
    }
}

/// The event loop count follows the CPUs the process may run on (its affinity list), not the machine's.
@Suite struct ProcessorAffinityTests {
    @Test(arguments: [("0", 1), ("0-1", 2), ("0,2-3,8", 4), (" 4-7", 4)])
    func countsKernelCPULists(list: String, expected: Int) {
        #expect(ProcessorAffinity.count(inCPUList: list[...]) == expected)
    }

    @Test(arguments: ["", "a", "3-1", "1-", "-2", "1-2-3"])
    func rejectsMalformedLists(list: String) {
        #expect(ProcessorAffinity.count(inCPUList: list[...]) == nil)
    }

    @Test func readsThisProcessMask() throws {
        let count = try #require(ProcessorAffinity.allowedCount())
        #expect(count >= 1 && count <= ProcessInfo.processInfo.processorCount)
    }
}
