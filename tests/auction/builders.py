"""Values the auction tests share."""

from auction.types import Ad, Creative

AD = Ad(
    ad_id="ad-1",
    creative=Creative(
        video_url="https://cdn.example.com/v/1.mp4",
        video_id=None,
        caption="Spring sale",
        call_to_action="SHOP_NOW",
        landing_url="https://shop.example.com/",
        display_name="Acme",
    ),
)
