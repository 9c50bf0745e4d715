/// The protocol's value types (error enums with Agora's codes, states, payloads) are part of the SDK's API.
@_exported import RTMProtocol
