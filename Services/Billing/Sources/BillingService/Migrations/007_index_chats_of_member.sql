-- A member's statement shows the free minutes of their chats: found by member.
CREATE INDEX chats_of_member ON chats (member_id);
