-- A citizen's text that comes without the gateway's message id (Kannel's get-url without &id=%I)
-- is recognised when smsbox delivers it again (its retry after an answer it lost) by what stays
-- the same: the number, the words, and the time bearerbox took it from the network (&ts=%T),
-- kept here; without that time, by coming again within seconds (store::ReceiveReply). Read
-- as a new text it would answer the next question of a two-way survey too.
ALTER TABLE inbound_messages ADD COLUMN gateway_time timestamptz;
