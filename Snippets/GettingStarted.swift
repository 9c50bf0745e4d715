// snippet.hide
import Foundation
import RTMClient
import RTMProtocol

let appID = ProcessInfo.processInfo.environment["RTM_APP_ID"] ?? "0123456789abcdef0123456789abcdef"
let token: String? = ProcessInfo.processInfo.environment["RTM_TOKEN"]

// snippet.show
// Connect and log in. The token comes from your backend (Agora's token builders, or `rtm token`).
let client = RTMClient(serverURL: "ws://127.0.0.1:8080/v1/ws", appID: appID)
Task {
    for await change in client.connectionStates {
        print("state \(change.state) because \(change.reason)")   // CONNECTING, CONNECTED, RECONNECTING…
    }
}
do {
    try await client.login(userID: "bob", token: token)
} catch {
    print("login failed with LOGIN_ERR \(error.rawValue)")       // e.g. 5 INVALID_TOKEN
}

// Send a peer message: `.ok` means the receiver acknowledged it.
let result = await client.sendMessage("Hello", toPeer: "alice")
switch result.code {
case .ok: print("delivered")
case .peerUnreachable: print("alice is offline")
default: print("failed with PEER_MESSAGE_ERR \(result.code.rawValue)")
}

// Join a channel, send to it, and read its events.
let lobby = client.channel("lobby")
try await lobby.join()
try await lobby.send("Hi all")
Task {
    for await event in lobby.events {
        if case .message(let from, .text(let text), _, _) = event { print("\(from): \(text)") }
    }
}

// Presence and attributes.
try await client.subscribePeersOnlineStatus(["alice"])
try await client.setLocalUserAttributes([RTMAttribute(key: "mood", value: "happy")])

// Receive peer messages (they are acknowledged automatically).
for await message in client.peerMessages {
    print("\(message.from): \(message.text ?? "<raw>")")
    // snippet.hide
    break
    // snippet.show
}
await client.logout()
